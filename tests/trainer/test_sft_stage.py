"""``mmrft sft`` end to end on a small JSONL of prompt + response (trace) + image rows."""

from __future__ import annotations

import json

import pytest
import torch

import mmrft.build.sft as stage
from mmrft.cli import main
from mmrft.config import load_config
from mmrft.models import load_policy
from mmrft.tasks import TASKS


def _dataset(tmp_path, n: int = 12):
    """Count problems whose response is a short trace ending in the answer, one chat row with a
    reply, and one chat row without (skipped, counted)."""
    folder = tmp_path / "data"
    (folder / "images").mkdir(parents=True)
    rows = []
    for k, s in enumerate(TASKS.get("count")().dataset(n, seed=4, level=1)):
        s.images[0].save(folder / "images" / f"{k}.png")
        rows.append({
            "id": f"p{k}", "task": "count", "prompt": s.prompt, "images": [f"images/{k}.png"],
            "answer": s.answer, "meta": s.meta,
            "response": f"I count {s.answer} shapes. <answer>{s.answer}</answer>",
        })  # fmt: skip
    rows.append({"id": "chat", "task": "count", "answer": "2", "images": ["images/0.png"],
                 "meta": rows[0]["meta"],
                 "messages": [{"role": "user", "content": [{"type": "image"},
                                                           {"type": "text", "text": "How many?"}]},
                              {"role": "assistant", "content": "<answer>2</answer>"}]})  # fmt: skip
    rows.append({"id": "mute", "task": "count", "answer": "1",
                 "messages": [{"role": "user", "content": "How many?"}]})  # fmt: skip
    path = folder / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _overrides(tmp_path, data):
    return [
        f"run.out_dir={tmp_path / 'run'}",
        f"data.train_path={data}",
        "data.eval_holdout=0.2",
        "rl.reward=task",
        "sft.steps=3",
        "sft.batch_size=4",
        "sft.micro_batch_size=2",
        "sft.group_by_length=true",
        "sft.warmup_steps=0",
        "sft.lr=1e-3",
        "run.save_every=2",
        "eval.n_samples=1",
        "eval.max_new_tokens=8",
    ]


@pytest.mark.slow
def test_mmrft_sft_on_traces_completes_exports_and_resumes(tmp_path, monkeypatch, capsys):
    data = _dataset(tmp_path)
    cfg = load_config(None, _overrides(tmp_path, data))
    out = tmp_path / "run"

    # A crash after training, before the export: the step-2 checkpoint is what is left.
    def crash(*args, **kwargs):
        raise RuntimeError("simulated crash")

    with monkeypatch.context() as m:
        m.setattr(stage, "export_policy", crash)
        with pytest.raises(RuntimeError, match="simulated crash"):
            stage.run_sft(cfg)
    assert (out / "checkpoints" / "step_000002" / "COMPLETE").exists()
    assert not (out / "COMPLETE").exists()

    resumed = []
    real_resume = stage.train_sft.__globals__["resume_checkpoint"]

    def spy(*args, **kwargs):
        found = real_resume(*args, **kwargs)
        resumed.append(None if found is None else found[1]["step"])
        return found

    monkeypatch.setitem(stage.train_sft.__globals__, "resume_checkpoint", spy)
    summary = stage.run_sft(cfg)
    assert resumed == [2]  # continued from step 2, not from scratch
    assert (out / "COMPLETE").exists() and not (out / "checkpoints").exists()
    assert [json.loads(x)["step"] for x in (out / "metrics.jsonl").read_text().splitlines()] == [
        1,
        2,
        3,
    ]
    # 14 rows: 1 reply-less chat row skipped and counted, round(0.2 * 14) = 3 held out
    assert summary["sft_rows_skipped"] == 1 and summary["eval_problems"] == 3
    skipped = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    assert [r["id"] for r in skipped] == ["mute"] and "no assistant turn" in skipped[0]["reason"]
    for key in ("accuracy", "greedy_accuracy"):
        assert 0 <= summary[f"{key}_before"] <= 1 and 0 <= summary[f"{key}_after"] <= 1
    assert json.loads((out / "summary.json").read_text()) == summary
    evals = [json.loads(x) for x in (out / "evals.jsonl").read_text().splitlines()]
    assert [e["step"] for e in evals] == [0, 3] and evals[0]["n_problems"] == 3

    model, _ = load_policy(str(out / "model"))  # a plain from_pretrained folder
    base, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    changed = [
        not torch.equal(a, b)
        for a, b in zip(model.state_dict().values(), base.state_dict().values(), strict=True)
    ]
    assert any(changed)

    # COMPLETE: a rerun returns the saved summary without work; the CLI prints the table
    monkeypatch.setattr(stage, "sft_stage", crash)
    assert stage.run_sft(cfg) == summary
    capsys.readouterr()
    assert main(["sft", str(out / "config.yaml")]) == 0
    assert "before vs after SFT" in capsys.readouterr().out


def test_mmrft_sft_command_parses_and_names_a_bad_key(tmp_path, capsys):
    from mmrft.cli import cmd_sft, parse_args

    args = parse_args(["sft", "c.yaml", "sft.steps=3", "--nproc", "2"])
    assert (args.func, args.overrides, args.nproc) == (cmd_sft, ["sft.steps=3"], 2)
    (tmp_path / "c.yaml").write_text("sft: {steps: 2}\n")
    assert main(["sft", str(tmp_path / "c.yaml"), "data.eval_holdout=1.5"]) == 2
    assert "data.eval_holdout" in capsys.readouterr().err
