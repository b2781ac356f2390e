"""`mmrft dpo` end to end on a tiny model: a pair file with a bad row, two steps, the files a
stage leaves, a crash and resume from the step-1 checkpoint, and the summary returned again."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from mmrft.build.dpo import run_dpo
from mmrft.cli import main
from mmrft.config import load_config
from mmrft.data.jsonl import write_jsonl
from mmrft.models import load_policy
from mmrft.tasks import TASKS
from mmrft.trainer.metrics import MetricsLogger

SMALL = [
    "dpo.steps=2",
    "dpo.batch_size=2",
    "dpo.lr=1e-3",
    "dpo.save_every=1",
    "data.eval_size=3",
    "eval.n_samples=1",
    "run.tensorboard=false",
]


def _pair_file(tmp_path):
    """Four good pairs (right count preferred to right + 1) and one row with no 'rejected'."""
    samples = TASKS.get("count")().dataset(4, seed=5, level=2)
    data = write_jsonl(samples, tmp_path / "data" / "rows.jsonl")
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    for row in rows:
        row["chosen"] = f"<answer>{row['answer']}</answer>"
        row["rejected"] = f"<answer>{int(row['answer']) + 1}</answer>"
    del rows[2]["rejected"]
    path = tmp_path / "data" / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_dpo_stage_end_to_end_with_crash_and_resume(tmp_path, monkeypatch, caplog):
    pairs = _pair_file(tmp_path)
    out = tmp_path / "run"
    overrides = [f"run.out_dir={out}", f"dpo.pairs_path={pairs}", *SMALL]

    class Crash(RuntimeError):
        pass

    real_log = MetricsLogger.log

    def crash_at_step_2(self, step, metrics):
        if step == 2:
            raise Crash("killed mid-run")
        real_log(self, step, metrics)

    monkeypatch.setattr(MetricsLogger, "log", crash_at_step_2)
    with pytest.raises(Crash):
        run_dpo(load_config(None, overrides))
    assert (out / "checkpoints" / "step_000001" / "COMPLETE").exists()
    assert not (out / "COMPLETE").exists()
    monkeypatch.undo()

    with caplog.at_level(logging.INFO, logger="mmrft"):
        assert main(["dpo", str(_write_cfg(tmp_path)), *overrides]) == 0
    assert "resuming from" in caplog.text and "step_000001" in caplog.text

    summary = json.loads((out / "summary.json").read_text())
    for key in ("accuracy_before", "accuracy_after", "greedy_accuracy_before", "wall_seconds"):
        assert key in summary
    assert summary["pair_stats"] == {"pairs": 3, "pairs_skipped": 1}
    skipped = [json.loads(x) for x in (out / "skipped_pairs.jsonl").read_text().splitlines()]
    assert skipped == [{"line": 3, "reason": "line 3: missing field 'rejected'"}]
    steps = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    assert all(torch.isfinite(torch.tensor(s["dpo/loss"])) for s in steps)
    assert steps[0]["dpo/loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference
    for name in ("config.yaml", "pairs.jsonl", "report.html", "COMPLETE"):
        assert (out / name).exists(), name
    assert not (out / "checkpoints").exists()

    trained, _ = load_policy(str(out / "model"))
    start, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    moved = [
        n
        for (n, a), b in zip(trained.named_parameters(), start.parameters(), strict=True)
        if not torch.equal(a, b)
    ]
    assert moved  # two DPO steps changed the exported weights

    # called again once COMPLETE: the saved summary, no work
    assert run_dpo(load_config(None, overrides)) == summary


def _write_cfg(tmp_path):
    path = tmp_path / "dpo.yaml"
    path.write_text("dpo:\n  loss: dpo\n")
    return path


def test_auto_pairs_need_both_kinds(tmp_path):
    """An untrained tiny model never answers right: no pair can be built, and the error says
    what to change."""
    overrides = [f"run.out_dir={tmp_path}", "dpo.prompts=2", "dpo.samples_per_prompt=2", *SMALL]
    with pytest.raises(ValueError, match="no preference pairs.*dpo.samples_per_prompt"):
        run_dpo(load_config(None, overrides))
