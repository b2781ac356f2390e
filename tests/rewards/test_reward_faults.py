"""Rewards that misbehave are caught, named and counted, never trained on silently (issue #14).

NaN/inf -> that completion fails (0, counted, named); a wrong number of values or strings for
numbers -> an error naming the reward at the first batch; a call past its timeout -> its
completions fail; nearly-all failing for K steps in a row -> the run stops with a named error.
"""

import argparse
import json
import logging
import math
import time

import numpy as np
import pytest
import torch

from mmrft.config import load_config
from mmrft.data.sample import Sample
from mmrft.rewards import compose_rewards, route_by_task, safe_reward
from mmrft.rewards.cli import add_parser
from mmrft.rewards.guard import GuardedReward, RewardError, RewardFailing, deadline

S = [Sample(id=f"s{i}", prompt="", answer="1") for i in range(4)]
C = ["<answer>1</answer>"] * 4


def nan_on_second(completions, samples):
    return {"overall": [math.nan if s.id == "s1" else 1.0 for s in samples]}


def inf_accuracy(completions, samples):
    return {"overall": [0.5] * len(samples), "accuracy": [math.inf] * len(samples)}


def one_value(completions, samples):
    return {"overall": [1.0]}


def strings(completions, samples):
    return {"overall": ["1.5"] * len(samples)}


def sleeper(completions, samples):
    time.sleep(30)
    return {"overall": [1.0] * len(samples)}


def raises(completions, samples):
    raise RuntimeError("verifier down")


def test_nan_fails_that_completion_counted_and_named(caplog):
    with caplog.at_level(logging.WARNING, logger="mmrft.rewards.base"):
        scores, failed = safe_reward(nan_on_second, C, S)
    assert scores == {"overall": [1.0, 0.0, 1.0, 1.0]} and failed == 1
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "nan_on_second" in warning and "s1" in warning and "nan" in warning


def test_inf_in_any_component_fails_the_completion_in_every_component():
    scores, failed = safe_reward(inf_accuracy, C, S)
    assert failed == 4 and scores == {"overall": [0.0] * 4, "accuracy": [0.0] * 4}
    assert all(math.isfinite(v) for values in scores.values() for v in values)


def test_nan_inside_a_composed_reward_is_caught_too():
    fn = compose_rewards({"format": 0.1, "nan": 0.9}, rewards={"nan": nan_on_second})
    scores, failed = safe_reward(fn, C, S)
    assert failed == 1 and scores["overall"][1] == 0.0 and scores["nan"][1] == 0.0


@pytest.mark.parametrize(
    "fn, match",
    [
        (one_value, r"'one_value' returned 1 values of 'overall' for 4 completions"),
        (strings, r"'strings' returned '1\.5' \(str\) as 'overall' for sample 's0'"),
        (lambda c, s: {"overall": 1.0}, r"component 'overall' must be a list of 4 numbers"),
        (lambda c, s: {"overall": [None] * 4}, r"returned None \(NoneType\)"),
        (lambda c, s: [1.0] * 4, r"must return a dict with an 'overall' key, got list"),
        (lambda c, s: {"accuracy": [1.0] * 4}, r"'overall' key, got \['accuracy'\]"),
    ],
)
def test_broken_contract_is_an_error_naming_the_reward_at_the_first_batch(fn, match):
    with pytest.raises(RewardError, match=match):
        safe_reward(fn, C, S)


def test_broken_contract_inside_compose_and_routing_names_the_inner_reward():
    composed = compose_rewards({"format": 0.5, "one": 0.5}, rewards={"one": one_value})
    with pytest.raises(RewardError, match=r"'one' returned 1 values of 'overall' for 4"):
        safe_reward(composed, C, S)
    routed = route_by_task({"": strings})
    with pytest.raises(RewardError, match=r"'strings' returned '1\.5'"):
        safe_reward(routed, C, S)


def test_numbers_of_every_common_kind_are_accepted():
    def kinds(completions, samples):
        return {"overall": [True, 1, np.float32(0.5), torch.tensor(0.25)]}

    scores, failed = safe_reward(kinds, C, S)
    assert scores == {"overall": [1.0, 1.0, 0.5, 0.25]} and failed == 0


def test_a_call_past_its_timeout_scores_0_and_is_counted(caplog):
    fn = GuardedReward(sleeper, timeout_s=0.3)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="mmrft.rewards.base"):
        scores, failed = safe_reward(fn, C, S)
    assert time.monotonic() - start < 5
    assert scores == {"overall": [0.0] * 4} and failed == 4
    assert "sleeper timed out after 0.3 s" in caplog.text and "'s0'" in caplog.text


def test_element_by_element_retry_shares_the_one_timeout():
    calls = []

    def slow_after_failing(completions, samples):
        calls.append(len(completions))
        if len(completions) > 1:
            raise ValueError("batch fails")
        time.sleep(0.2)
        return {"overall": [1.0]}

    start = time.monotonic()
    scores, failed = safe_reward(GuardedReward(slow_after_failing, timeout_s=0.5), C * 5, S * 5)
    assert time.monotonic() - start < 2.5  # 20 elements x 0.2 s unbounded: 4 s
    assert 1 <= scores["overall"].count(1.0) <= 3 and failed == 20 - scores["overall"].count(1.0)


def test_timeout_cannot_be_swallowed_by_the_reward():
    def stubborn(completions, samples):
        for _ in range(100):
            try:
                time.sleep(1)
            except Exception:  # noqa: S112 - the point: a broad except must not eat the timeout
                continue
        return {"overall": [1.0] * len(samples)}

    start = time.monotonic()
    assert safe_reward(GuardedReward(stubborn, timeout_s=0.2), C, S)[1] == 4
    assert time.monotonic() - start < 5


def test_deadline_leaves_math_verify_alarms_working():
    from mmrft.rewards.math import math_reward

    pathological = Sample(id="p", prompt="", answer="2")
    start = time.monotonic()
    with deadline(30):  # math-verify's own 2 s alarm still cuts the parse
        scores = math_reward(["<answer>9^{9^{9^{9}}}</answer>"], [pathological])
    assert scores["accuracy"] == [0.0] and time.monotonic() - start < 15


def test_failing_on_nearly_everything_for_k_steps_stops_with_a_named_error():
    fn = GuardedReward(raises, max_failing_steps=2)
    safe_reward(fn, C, S)  # before the first step: not counted
    fn.set_step(1)
    assert safe_reward(fn, C, S)[1] == 4  # step 1 fails: 1 in a row
    fn.set_step(2)
    with pytest.raises(RewardFailing, match=r"'raises' failed on 4 of 4 completions at step 2"):
        safe_reward(fn, C, S)


def test_a_working_step_resets_the_count():
    state = {"fail": True}

    def flaky(completions, samples):
        if state["fail"]:
            raise RuntimeError("down")
        return {"overall": [1.0] * len(samples)}

    fn = GuardedReward(flaky, max_failing_steps=2)
    for step, fail in enumerate([True, False, True, False, True], start=1):
        fn.set_step(step)
        state["fail"] = fail
        safe_reward(fn, C, S)  # never two failing steps in a row: never stops
    fn.set_step(6)
    with pytest.raises(RewardFailing):
        safe_reward(fn, C, S)


def test_guarded_reward_passes_set_step_to_a_scheduled_reward():
    inner = compose_rewards({"format": {"schedule": "linear", "start": 0, "end": 1, "steps": 10}})
    fn = GuardedReward(inner)
    fn.set_step(5)
    assert inner.step == 5 and fn.__name__ == "composed_reward"


def test_config_keys_reach_the_run_reward():
    from mmrft.build import make_reward

    cfg = load_config(None, ["rl.reward_timeout_s=7", "rl.reward_max_failing_steps=4"])
    fn = make_reward(cfg)
    assert isinstance(fn, GuardedReward)
    assert (fn.timeout_s, fn.max_failing_steps, fn.__name__) == (7.0, 4, "count_reward")
    assert load_config(None, ["rl.reward_timeout_s=null"]).rl.reward_timeout_s is None


def run_cli(tmp_path, capsys, reward, extra=()):
    path = tmp_path / "c.jsonl"
    path.write_text("".join(json.dumps({"completion": c, "answer": "1"}) + "\n" for c in C))
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["reward", reward, str(path), *extra])
    status = args.func(args)
    out, err = capsys.readouterr()
    return status, json.loads(out), err


def test_mmrft_reward_exits_nonzero_when_the_reward_fails_on_nearly_everything(tmp_path, capsys):
    status, summary, err = run_cli(tmp_path, capsys, f"{__file__}:raises")
    assert status == 1 and summary["failed"] == 4 and ":raises' failed on 4 of 4" in err
    status, summary, _ = run_cli(tmp_path, capsys, f"{__file__}:sleeper", ["--timeout-s", "0.2"])
    assert status == 1 and summary["failed"] == 4
    status, summary, _ = run_cli(tmp_path, capsys, "count")
    assert status == 0 and summary["failed"] == 0


def test_mmrft_reward_refuses_a_broken_contract(tmp_path):
    from mmrft.cli import main

    path = tmp_path / "c.jsonl"
    path.write_text((json.dumps({"completion": "x", "answer": "1"}) + "\n") * 2)
    assert main(["reward", f"{__file__}:one_value", str(path)]) == 2  # one clear line, no trace
