"""A misbehaving reward in a real (tiny) run: caught, named and counted (issue #14).

Before: NaN rewards crashed the next step ("probability tensor contains either inf, nan") and
left a bare NaN in evals.jsonl; one value for a whole batch trained every completion on it.
"""

from __future__ import annotations

import json
import math

from mmrft.cli import main
from mmrft.config import DEFAULT_CONFIG_PATH

REWARDS = """
import math

def nan_on_odd(completions, samples):
    return {"overall": [math.nan if i % 2 else 1.0 for i in range(len(completions))]}

def one_value(completions, samples):
    return {"overall": [1.0]}

def raises(completions, samples):
    raise RuntimeError("judge server unreachable")
"""

TINY = [
    "sft.steps=0",
    "rl.steps=3",
    "rl.eval_every=1",
    "data.eval_size=2",
    "eval.n_samples=2",
    "rollout.prompts_per_step=2",
    "rollout.group_size=2",
    "rollout.max_new_tokens=4",
    "eval.max_new_tokens=4",
    "run.tensorboard=false",
]


def train(tmp_path, reward, *extra):
    (tmp_path / "rewards.py").write_text(REWARDS)
    out = tmp_path / "run"
    args = [f"run.out_dir={out}", f"rl.reward={tmp_path / 'rewards.py'}:{reward}", *TINY, *extra]
    return main(["train", str(DEFAULT_CONFIG_PATH), *args]), out


def read(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_nan_rewards_are_failures_counted_and_the_run_finishes(tmp_path):
    status, out = train(tmp_path, "nan_on_odd")
    assert status == 0
    metrics = read(out / "metrics.jsonl")
    assert [m["reward/failures"] for m in metrics] == [2, 2, 2]  # half of 2 x 2 completions
    assert all(m["reward/mean"] == 0.5 for m in metrics)
    assert all(math.isfinite(v) for e in read(out / "evals.jsonl") for v in e.values())


def test_one_value_for_a_batch_stops_at_the_first_batch_naming_the_reward(tmp_path, capsys):
    status, out = train(tmp_path, "one_value")
    err = capsys.readouterr().err
    assert status == 2 and "'one_value' returned 1 values of 'overall' for 4 completions" in err
    assert not (out / "metrics.jsonl").exists() or not read(out / "metrics.jsonl")


def test_a_reward_failing_on_everything_stops_the_run_after_k_steps(tmp_path, capsys):
    status, out = train(tmp_path, "raises", "rl.reward_max_failing_steps=2")
    err = capsys.readouterr().err
    assert status == 2
    assert "'raises' failed on 4 of 4 completions at step 2: 2 steps in a row" in err
    assert "judge server unreachable" in err
