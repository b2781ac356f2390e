"""benchmarks/recipe_study.py: its variants are valid demo configs, its table reads gains and
largest drops from run folders correctly (hand-built runs), and RL-only variants reuse a cold
start while variants that change SFT do not."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from mmrft.config import load_config

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "src" / "mmrft" / "configs" / "demo.yaml"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location(
        "recipe_study", ROOT / "benchmarks" / "recipe_study.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_variant_is_a_valid_demo_config(study):
    for name in study.VARIANTS:
        cfg = load_config(DEMO, study.overrides_for(name, steps=100))
        assert (cfg.rl.steps, cfg.rl.eval_every) == (100, 10), name
    cfg = load_config(DEMO, study.overrides_for("warmup-cosine", steps=None))
    assert (cfg.rl.lr_schedule, cfg.rl.warmup_steps, cfg.rl.steps) == ("cosine", 20, 500)


def _fake_run(out: Path, variant: str, seed: int, accs: list[float], greedy: list[float]) -> None:
    d = out / f"{variant}-s{seed}"
    d.mkdir(parents=True)
    steps = [0, 100, 200, 300, 400, 500]
    rows = [
        {"step": s, "accuracy": a, "greedy_accuracy": g}
        for s, a, g in zip(steps, accs, greedy, strict=True)
    ]
    (d / "evals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    summary = {
        "rl_steps": 500,
        "wall_seconds": 600.0,
        "accuracy_before": accs[0],
        "accuracy_after": sum(accs[-3:]) / 3,
        "greedy_accuracy_before": greedy[0],
        "greedy_accuracy_after": sum(greedy[-3:]) / 3,
    }
    (d / "summary.json").write_text(json.dumps(summary))


def test_table_gains_and_largest_drops(study, tmp_path):
    # seed 0: after = (0.5 + 0.4 + 0.6) / 3 = 0.5, gain +0.2; the evaluation at 400 (0.4) is
    # 0.1 below the best before it (0.5 at 300); step 100 is not "after step 100".
    _fake_run(
        tmp_path, "default", 0, [0.3, 0.45, 0.5, 0.5, 0.4, 0.6], [0.4, 0.5, 0.5, 0.5, 0.5, 0.5]
    )
    # seed 1: climbs steadily, after = (0.5 + 0.55 + 0.6) / 3 = 0.55, gain +0.3, no drop;
    # greedy falls from 0.6 (step 100) to 0.45 at step 200: a greedy drop of 0.15
    _fake_run(
        tmp_path, "default", 1, [0.25, 0.35, 0.45, 0.5, 0.55, 0.6], [0.4, 0.6, 0.45, 0.6, 0.6, 0.6]
    )
    rows = [study.run_row(tmp_path, "default", s) for s in (0, 1)]
    assert study.run_row(tmp_path, "default", 2) is None  # not run yet
    assert [round(r["drop"], 6) for r in rows] == [0.1, 0.0]
    assert [round(r["greedy_drop"], 6) for r in rows] == [0.0, 0.15]
    text = study.tables(rows, {0: [0.5, 0.52, 0.48]})
    ablation = text.splitlines()[2]
    # gains 0.2, 0.3: mean 0.25, sd 0.0707; drops 0.1, 0: mean 0.05, sd 0.0707
    assert "+0.250 ± 0.071 [+0.200, +0.300]" in ablation
    assert "+0.050 ± 0.071 [+0.000, +0.100]" in ablation
    assert "sd 0.020, range 0.040" in text  # eval-noise row: stdev of 0.5, 0.52, 0.48
    assert "| default | 0 | 0.300 → 0.500 (+0.200) |" in text


def test_rl_variants_share_the_cold_start_and_sft_variants_do_not(study, tmp_path):
    sft = tmp_path / "default-s0" / "sft"
    (sft / "checkpoints").mkdir(parents=True)
    (sft / "COMPLETE").write_text("")
    (sft / "model.safetensors").write_text("weights")
    assert study.share_cold_start(tmp_path, "warmup-cosine", 0)
    copied = tmp_path / "warmup-cosine-s0" / "sft"
    assert (copied / "COMPLETE").exists() and (copied / "model.safetensors").exists()
    assert not (copied / "checkpoints").exists()
    assert not study.share_cold_start(tmp_path, "sft-stop-0.30", 0)
    assert not (tmp_path / "sft-stop-0.30-s0" / "sft").exists()
    study.share_cold_start(tmp_path, "clip-higher", 1)  # no finished cold start of seed 1
    assert not (tmp_path / "clip-higher-s1" / "sft").exists()


def test_eval_noise_is_read_back_not_recomputed(study, tmp_path):
    run = tmp_path / "default-s0"
    run.mkdir()
    (run / "eval_noise_3.json").write_text("[0.5, 0.52, 0.48]")
    assert study.eval_noise(tmp_path, 0, 3) == [0.5, 0.52, 0.48]  # no model/ needed
    assert study.eval_noise(tmp_path, 1, 3) is None  # seed 1 has no finished default run
