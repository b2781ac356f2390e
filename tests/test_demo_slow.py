"""The flagship demo with its default recipe: GRPO must measurably improve the cold-start policy.

Slow (about 10 minutes on 2 CPU cores): run with ``pytest -m slow``; CI runs it as a separate step.
"""

from __future__ import annotations

import json

import pytest

from mmrft.cli import main


@pytest.mark.slow
def test_demo_improves_accuracy(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--seed", "0"]) == 0
    s = json.loads((tmp_path / "summary.json").read_text())
    assert s["eval_problems"] >= 500
    # issue #18's gain bars; seed 0 measured +0.30 / +0.19 in every run of the recipe
    # (README), and its largest drop (0.022 / 0.034 quiet) is reported, not asserted: a swing
    # of the policy between two evaluations is a chance event of the trajectory
    assert s["accuracy_after"] - s["accuracy_before"] >= 0.20
    assert s["greedy_accuracy_after"] - s["greedy_accuracy_before"] >= 0.10
    assert s["wall_seconds"] <= 15 * 60
    assert (tmp_path / "report.html").exists()
