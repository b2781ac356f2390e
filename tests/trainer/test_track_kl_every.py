"""rl.track_kl_every: a KL that is only logged is computed every N steps, and skipping it
changes nothing about training."""

from __future__ import annotations

import json

import pytest
from learn_utils import run_digit_task

from mmrft.config import ConfigError, load_config


def metrics(path) -> list[dict]:
    return [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines()]


def test_logged_kl_every_third_step_leaves_training_unchanged(tmp_path):
    """Bit for bit, so with rl.skip_zero_advantage off: it acts only on steps without reference
    log-probs, where it changes the float summation order of the same gradient."""
    every = {}
    for n in (1, 3):
        out = tmp_path / str(n)
        opts = ("rl.track_kl=true", f"rl.track_kl_every={n}", "rl.skip_zero_advantage=false")
        run_digit_task(out, *opts, steps=6)
        every[n] = metrics(out)
    (a, b) = every[1], every[3]
    assert [r["step"] for r in a if "actor/kl" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in b if "actor/kl" in r] == [3, 6]
    assert [r["reward/mean"] for r in a] == [r["reward/mean"] for r in b]
    assert [r["actor/loss"] for r in a] == [r["actor/loss"] for r in b]
    assert [r["actor/kl"] for r in a if r["step"] % 3 == 0] == [
        r["actor/kl"] for r in b if "actor/kl" in r
    ]
    assert a[-1]["actor/kl"] > 0  # the policy did move away from its start


def test_a_kl_in_the_loss_is_computed_every_step(tmp_path):
    run_digit_task(tmp_path, "algorithm.kl_coef=0.1", "rl.track_kl_every=4", steps=3)
    assert all("actor/kl" in r for r in metrics(tmp_path))


def test_track_kl_every_must_be_positive():
    with pytest.raises(ConfigError, match="rl.track_kl_every"):
        load_config(None, ["rl.track_kl_every=0"])
