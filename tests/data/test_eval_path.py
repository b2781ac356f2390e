"""Held-out evaluation on the user's data: data.eval_path, or a held-out part of data.train_path."""

from __future__ import annotations

import json
import logging

import pytest

from mmrft.build import make_data, run
from mmrft.build.components import hold_out
from mmrft.config import ConfigError, load_config
from mmrft.data.jsonl import write_jsonl
from mmrft.data.sample import Sample
from mmrft.tasks import TASKS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    count = TASKS.get("count")()
    train = write_jsonl(count.dataset(20, seed=5, level=1), root / "train.jsonl")
    held = [
        Sample(f"e{i}", s.prompt, s.answer, s.images, "count", s.meta)
        for i, s in enumerate(count.dataset(4, seed=77, level=1))
    ]
    evals = write_jsonl(held, root / "eval.jsonl")
    with evals.open("a") as f:
        f.write("{not json\n")  # a bad evaluation line is skipped, not fatal
    return train, evals


def _ids(samples) -> list[str]:
    return [s.id for s in samples]


def test_eval_path_supplies_the_eval_problems_and_training_keeps_every_row(files):
    train, evals = files
    cfg = load_config(None, [f"data.train_path={train}", f"data.eval_path={evals}"])
    sft, rl, eval_samples, _ = make_data(cfg)
    assert _ids(eval_samples) == ["e0", "e1", "e2", "e3"]
    assert len(sft.samples) == len(rl.samples) == 20
    capped = load_config(None, [f"data.eval_path={evals}", "data.eval_size=2"])
    assert _ids(make_data(capped)[2]) == ["e0", "e1"]  # with generated training problems too


def test_without_eval_path_a_fraction_of_the_training_rows_is_held_out(files, caplog):
    train, _ = files
    cfg = load_config(None, [f"data.train_path={train}", "data.eval_holdout=0.1"])
    with caplog.at_level(logging.INFO, logger="mmrft.build.components"):
        sft, rl, eval_samples, _ = make_data(cfg)
    assert f"held out 2 of 20 rows of {train} for evaluation" in caplog.text
    assert len(eval_samples) == 2 and len(sft.samples) == len(rl.samples) == 18
    assert not set(_ids(eval_samples)) & set(_ids(sft.samples))  # removed from training
    assert sorted(_ids(eval_samples) + _ids(sft.samples)) == sorted(
        s.id for s in TASKS.get("count")().dataset(20, seed=5, level=1)
    )
    assert all(s.task == "count" for s in eval_samples)  # the user's rows, not a generated task
    assert _ids(make_data(cfg)[2]) == _ids(eval_samples)  # deterministic
    capped = load_config(None, [f"data.train_path={train}", "data.eval_size=1"])
    assert len(make_data(capped)[2]) == 1  # at most data.eval_size
    none = load_config(None, [f"data.train_path={train}", "data.eval_holdout=0"])
    assert make_data(none)[2] == [] and len(make_data(none)[0].samples) == 20


def test_hold_out_counts():
    rows = [Sample(str(i), "?", "0") for i in range(7)]
    # round(0.05 * 7) = 0, but a positive fraction holds out at least one row
    assert [len(x) for x in hold_out(rows, 0.05, 500, seed=1)] == [6, 1]
    assert [len(x) for x in hold_out(rows, 0.5, 2, seed=1)] == [5, 2]  # capped
    assert [len(x) for x in hold_out(rows[:1], 0.5, 9, seed=1)] == [1, 0]  # never all rows
    with pytest.raises(ConfigError, match="eval_holdout"):
        load_config(None, ["data.eval_holdout=1"])


@pytest.mark.slow
def test_train_evaluates_on_the_eval_file_with_the_samples_own_reward(files, tmp_path):
    """The bug this fixes: with data.train_path set, the held-out evaluation ran on generated
    count problems. Now it runs on data.eval_path's rows, scored by rl.reward: task."""
    train, evals = files
    overrides = [
        f"run.out_dir={tmp_path}",
        f"data.train_path={train}",
        f"data.eval_path={evals}",
        "rl.reward=task",
        "sft.steps=0",
        "rl.steps=1",
        "rl.eval_every=1",
        "eval.n_samples=1",
        "rollout.prompts_per_step=2",
        "rollout.group_size=2",
        "run.tensorboard=false",
    ]
    summary = run(load_config(None, overrides))
    evaluations = [json.loads(x) for x in (tmp_path / "evals.jsonl").read_text().splitlines()]
    assert [e["n_problems"] for e in evaluations] == [4, 4]
    assert summary["eval_problems"] == 4
    examples = [json.loads(x) for x in (tmp_path / "examples.jsonl").read_text().splitlines()]
    prompts = {s.prompt for s in TASKS.get("count")().dataset(4, seed=77, level=1)}
    assert {e["prompt"] for e in examples} == prompts
