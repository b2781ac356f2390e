"""Curricula in the loop and the pipeline: levels per step, mixtures scored by their own tasks."""

from __future__ import annotations

import json

import torch

from mmrft.config import load_config
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS
from mmrft.tasks.curriculum import LevelSchedule
from mmrft.trainer.pipeline import make_data, make_reward, make_task
from mmrft.trainer.rl import train_rl


def test_schedule_sets_the_level_of_each_steps_problems(tmp_path):
    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path}",
            "rl.steps=4",
            "rollout.prompts_per_step=2",
            "rollout.group_size=2",
            "rollout.max_new_tokens=3",
            "run.tensorboard=false",
        ],
    )
    seen: list[set[int]] = []

    def level_reward(completions, samples):
        seen.append({s.meta["level"] for s in samples})
        return {"overall": [len(c) / 10 for c in completions]}

    torch.manual_seed(0)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    stream = ProblemStream.from_task(TASKS.get("count")(), 5, 1).prefetch()
    stream.policy = LevelSchedule([[0, 1], [3, 3]])
    train_rl(
        cfg,
        model,
        processor,
        family_for(model.config.model_type, processor),
        stream=stream,
        reward_fn=level_reward,
        eval_samples=[],
    )
    assert seen == [{1}, {1}, {3}, {3}]
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["curriculum/level"] for r in rows] == [1, 1, 3, 3]


def test_mixture_with_task_reward_scores_each_sample_by_its_own_task(tmp_path):
    cfg = load_config(None, ["data.mixture={count: 1, clock: 1}", "rl.reward=task"])
    task = make_task(cfg)
    samples = task.dataset(12, 0, 2)
    assert {s.task for s in samples} == {"count", "clock"}
    reward = make_reward(cfg)
    right = reward([f"<answer>{s.answer}</answer>" for s in samples], samples)
    wrong = reward(["<answer>no idea</answer>"] * len(samples), samples)
    assert right["accuracy"] == [1.0] * 12 and wrong["accuracy"] == [0.0] * 12


def test_adaptive_config_starts_rl_at_the_lowest_level():
    cfg = load_config(None, ["data.adaptive_level=true", "data.level=3", "data.eval_size=2"])
    _, rl_stream, eval_samples, _ = make_data(cfg)
    assert rl_stream.level == min(make_task(cfg).levels)
    assert {s.meta["level"] for s in eval_samples} == {3}  # evaluation stays at data.level
    rl_stream.prefetch(False)


def test_task_reward_uses_each_rows_own_reward_field(tmp_path):
    from mmrft.data.load import load_dataset_file
    from mmrft.rewards.base import safe_reward

    rows = [
        {"id": "a", "prompt": "1/2 as a decimal?", "answer": "0.5", "reward": "math"},
        {
            "id": "b",
            "prompt": "Pick",
            "answer": "B",
            "reward": "choice",
            "meta": {"options": ["x", "y"]},
        },
        {"id": "c", "prompt": "How many?", "answer": "3", "task": "count"},  # its task's reward
        {"id": "d", "prompt": "?", "answer": "1", "task": "not-a-task"},  # no reward at all
    ]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = load_dataset_file(tmp_path / "d.jsonl").samples
    assert samples[0].meta == {"reward": "math"}
    reward = make_reward(load_config(None, ["rl.reward=task"]))
    answers = ["<answer>\\frac{1}{2}</answer>", "<answer>y</answer>", "<answer>3</answer>"]
    scores, failed = safe_reward(reward, [*answers, "<answer>1</answer>"], samples)
    # math-verify: 1/2 == 0.5; choice: option text "y" is B; count: 3; the last has no reward
    assert scores["accuracy"] == [1.0, 1.0, 1.0, 0.0] and failed == 1


def test_task_kwargs_reach_the_task_and_a_misspelt_one_names_the_key():
    import pytest

    cfg = load_config(None, ["data.task=ground", "data.task_kwargs={box_format: rel1000}"])
    sample = make_task(cfg).generate(0, 1)
    assert sample.meta["box_format"] == "rel1000" and "1000" in sample.prompt
    with pytest.raises(ValueError, match="data.task_kwargs for task 'ground'"):
        make_task(load_config(None, ["data.task=ground", "data.task_kwargs={box_fmt: 1}"]))
    mix = load_config(
        None, ["data.mixture={ground: 1}", "data.task_kwargs={ground: {box_format: norm}}"]
    )
    assert make_task(mix).generate(0, 1).meta["box_format"] == "norm"
