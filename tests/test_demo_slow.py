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
    assert s["accuracy_after"] - s["accuracy_before"] >= 0.15
    assert s["greedy_accuracy_after"] >= s["greedy_accuracy_before"] - 0.02
    assert s["wall_seconds"] <= 15 * 60
    assert (tmp_path / "report.html").exists()
