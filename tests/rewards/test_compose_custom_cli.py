"""Composition (weights, gating, schedules, routing), custom rewards, length, `mmrft reward`."""

import argparse
import doctest
import json

import pytest

import mmrft.rewards.choice
import mmrft.rewards.cli
import mmrft.rewards.compose
import mmrft.rewards.custom
import mmrft.rewards.grounding
import mmrft.rewards.length
import mmrft.rewards.math
import mmrft.rewards.numeric
import mmrft.rewards.ocr
from mmrft.data.sample import Sample
from mmrft.rewards import (
    REWARDS,
    compose_rewards,
    load_reward,
    make_overlong_reward,
    make_repetition_reward,
    resolve_reward,
    route_by_task,
    safe_reward,
    schedule_value,
)
from mmrft.rewards.cli import add_parser, score_file

TWO = Sample(id="t", prompt="1 + 1?", answer="2")


def test_weighted_sum_and_components():
    fn = compose_rewards({"format": 0.2, "math": 0.8})
    scores = fn(["<answer>2</answer>", "2 <answer>2</answer>", "<answer>3</answer>"], [TWO] * 3)
    # math overall = 0.9 acc + 0.1 fmt; total = 0.2 fmt + 0.8 math.
    assert scores["overall"] == pytest.approx([1.0, 0.8 * 0.9, 0.2 + 0.8 * 0.1])
    assert scores["format"] == [1.0, 0.0, 1.0]
    assert scores["math/accuracy"] == [1.0, 1.0, 0.0]


def test_gate_counts_accuracy_only_when_format_is_right():
    fn = compose_rewards({"format": 0.1, "math": 0.9}, gate="format")
    scores = fn(["<answer>2</answer>", "2 <answer>2</answer>"], [TWO] * 2)
    assert scores["overall"] == [1.0, 0.0]  # correct but badly formatted: gated out
    with pytest.raises(ValueError, match="gate"):
        compose_rewards({"math": 1.0}, gate="format")


def test_scheduled_weights_follow_set_step():
    fn = compose_rewards({"math": {"schedule": "linear", "start": 0.0, "end": 1.0, "steps": 10}})
    for step, expected in [(0, 0.0), (5, 0.5), (100, 1.0)]:
        fn.set_step(step)
        assert fn(["<answer>2</answer>"], [TWO])["overall"] == [pytest.approx(expected)]


@pytest.mark.parametrize(
    "spec, step, value",
    [
        (0.7, 123, 0.7),
        ({"schedule": "constant", "value": 2}, 5, 2.0),
        ({"schedule": "linear", "start": 1, "end": 0, "steps": 4}, 1, 0.75),
        ({"schedule": "linear", "start": 1, "end": 0, "steps": 4}, -3, 1.0),
        ({"schedule": "cosine", "start": 1, "end": 0, "steps": 4}, 0, 1.0),
        ({"schedule": "cosine", "start": 1, "end": 0, "steps": 4}, 4, 0.0),
        ({"schedule": "step", "values": [1, 2, 3], "boundaries": [5, 10]}, 4, 1.0),
        ({"schedule": "step", "values": [1, 2, 3], "boundaries": [5, 10]}, 5, 2.0),
        ({"schedule": "step", "values": [1, 2, 3], "boundaries": [5, 10]}, 99, 3.0),
    ],
)
def test_schedule_value(spec, step, value):
    assert schedule_value(spec, step) == pytest.approx(value)


@pytest.mark.parametrize(
    "spec",
    [
        {"schedule": "exp"},
        {"schedule": "linear", "start": 0, "end": 1, "steps": 0},
        {"schedule": "step", "values": [1], "boundaries": [5]},
        "0.5",
    ],
)
def test_bad_schedules_fail_at_construction(spec):
    with pytest.raises(ValueError):
        compose_rewards({"math": spec})


def test_factory_terms_and_length_penalties():
    fn = compose_rewards(
        {"math": 1.0, "overlong": {"weight": 0.5, "args": {"max_length": 30, "cache": 10}}}
    )
    long_ok = "<think>" + "x" * 15 + "</think><answer>2</answer>"  # 41 chars > 30: -1
    scores = fn(["<answer>2</answer>", long_ok], [TWO] * 2)
    assert scores["overlong"] == [0.0, -1.0]
    assert scores["overall"] == pytest.approx([1.0, 0.5])
    rep = make_repetition_reward(n=3)(["a b c a b c a b c", "one two three four"], [TWO] * 2)
    assert rep["repetition"] == [pytest.approx(1 - 3 / 7), 0.0]
    tokens = make_overlong_reward(max_length=4, cache=2, count=lambda s: len(s.split()))
    assert tokens(["a b", "a b c", "a b c d e"], [TWO] * 3)["overall"] == [0.0, -0.5, -1.0]


def test_route_by_task_mixes_families_in_one_batch():
    fn = route_by_task({"math": "math", "choice": "choice"}, default="format")
    samples = [
        Sample(id="a", prompt="", answer="1/2", task="math"),
        Sample(id="b", prompt="", answer="A", task="choice", meta={"options": ["x", "y"]}),
        Sample(id="c", prompt="", answer="", task="other"),
    ]
    scores = fn(["<answer>0.5</answer>", "<answer>B</answer>", "<answer>x</answer>"], samples)
    assert scores["overall"] == [1.0, pytest.approx(0.1), 1.0]
    assert scores["accuracy"] == [1.0, 0.0, 0.0]  # the format reward has no accuracy: 0.0
    with pytest.raises(KeyError, match="no reward for task"):
        route_by_task({"math": "math"})(["x"], [samples[2]])


def test_set_step_reaches_routed_compositions():
    inner = compose_rewards({"math": {"schedule": "step", "values": [0, 1], "boundaries": [10]}})
    fn = route_by_task({"math": inner})
    s = Sample(id="a", prompt="", answer="2", task="math")
    assert fn(["<answer>2</answer>"], [s])["overall"] == [0.0]
    fn.set_step(10)
    assert fn(["<answer>2</answer>"], [s])["overall"] == [1.0]


CUSTOM = """
def length_reward(completions, samples):
    return {"overall": [float(len(c)) for c in completions]}

def wrong_signature(completions):
    return {}

NOT_CALLABLE = 3
"""


def test_custom_rewards_from_file_and_module(tmp_path):
    path = tmp_path / "my_rewards.py"
    path.write_text(CUSTOM)
    fn = load_reward(f"{path}:length_reward")
    assert fn(["abc"], [TWO]) == {"overall": [3.0]}
    assert resolve_reward("mmrft.rewards.ocr:anls_reward") is REWARDS.get("anls")
    cases = [
        ("no_colon", "expected 'package.module:function'"),
        (f"{tmp_path}/missing.py:fn", "no file"),
        ("not.a.module:fn", "cannot import module"),
        (f"{path}:nope", "has no attribute 'nope'; it defines: \\['length_reward'"),
        (f"{path}:wrong_signature", "must accept \\(completions, samples\\)"),
        (f"{path}:NOT_CALLABLE", "not callable"),
    ]
    for spec, message in cases:
        with pytest.raises((ValueError, FileNotFoundError), match=message):
            load_reward(spec)
    with pytest.raises(KeyError, match="unknown reward"):
        resolve_reward("no_such_reward")


BOX_REWARDS = ("grounding", "detection", "detection_confidence", "gui_click")


def test_every_reward_survives_garbage():
    garbage = [
        "",
        "<answer>",
        "</answer><answer>",
        "\x00" * 50,
        "<answer>" + "[]" * 3000 + "</answer>",
        "<answer>" + "9," * 2000 + "</answer>",
        "<answer>\\frac{</answer>",
        "🙂" * 100,
    ]
    samples = {
        "math": Sample(id="m", prompt="", answer="2"),
        "choice": Sample(id="c", prompt="", answer="A", meta={"options": ["x", "y"]}),
        "count": Sample(id="n", prompt="", answer="3"),
    }
    from mmrft.tasks import TASKS  # rewards registered by task modules need their own samples

    samples["gym"] = TASKS.get("gym")(dataset="basic_arithmetic").generate(0)
    box = Sample(id="b", prompt="", answer="[0, 0, 10, 10]", meta={"box_format": "abs"})
    for name in REWARDS.names():
        sample = box if name in BOX_REWARDS else samples.get(name, samples["math"])
        scores, failed = safe_reward(REWARDS.get(name), garbage, [sample] * len(garbage))
        assert failed == 0, name
        assert scores.get("accuracy", [0.0]) == [0.0] * len(scores.get("accuracy", [0.0])), name


def test_cli_scores_a_file_and_skips_malformed_lines(tmp_path, capsys):
    lines = [
        json.dumps({"completion": "<answer>0.5</answer>", "answer": "\\frac{1}{2}", "task": "m"}),
        "not json",
        json.dumps({"completion": "<answer>3</answer>", "answer": "2", "meta": {}}),
        json.dumps({"answer": "2"}),
        "",
        json.dumps([1, 2]),
    ]
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(lines) + "\n")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["reward", "math", str(src), "--out", str(out)])
    assert args.func(args) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert summary["n"] == 2 and summary["skipped"] == 3 and summary["reward"] == "math"
    assert summary["mean"]["accuracy"] == 0.5
    assert all(f"in.jsonl:{n}:" in captured.err for n in (2, 4, 6))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reward"] for r in rows] == [1.0, pytest.approx(0.1)]
    assert rows[0]["rewards"]["accuracy"] == 1.0 and rows[0]["task"] == "m"
    assert score_file("count", tmp_path / "in.jsonl")["n"] == 2  # no --out: summary only


@pytest.mark.parametrize(
    "module",
    [
        mmrft.rewards.choice,
        mmrft.rewards.compose,
        mmrft.rewards.custom,
        mmrft.rewards.grounding,
        mmrft.rewards.length,
        mmrft.rewards.math,
        mmrft.rewards.numeric,
        mmrft.rewards.ocr,
    ],
)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted and not result.failed
