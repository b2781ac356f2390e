"""Curricula in the loop and the pipeline: levels per step, mixtures scored by their own tasks."""

from __future__ import annotations

import json

import pytest
import torch
from learn_utils import components

from mmrft.build import make_data, make_reward, make_task
from mmrft.config import load_config
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS
from mmrft.tasks.curriculum import LevelSchedule
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
    family = family_for(model.config.model_type, processor)
    train_rl(
        cfg,
        model,
        processor,
        family,
        stream=stream,
        reward_fn=level_reward,
        eval_samples=[],
        **components(cfg, model, family),
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


@pytest.mark.parametrize(
    ("model", "box_format"),
    [("tiny-qwen2-vl", "rel1000"), ("tiny-llava", "norm"), ("tiny-qwen2.5-vl", "resized")],
)
def test_box_tasks_follow_the_model_familys_convention(model, box_format):
    from mmrft.models.loading import load_family
    from mmrft.rewards import REWARDS

    cfg = load_config(None, [f"model.name_or_path={model}", "data.task=ground"])
    family = load_family(model, min_pixels=cfg.model.min_pixels, max_pixels=cfg.model.max_pixels)
    s = make_task(cfg, family).generate(0, 2)
    assert s.meta["box_format"] == family.box_format == box_format
    x1, y1, x2, y2 = json.loads(s.answer)  # gold in original-image pixels
    W, H = s.meta["image_size"]
    if box_format == "rel1000":
        pred = [x1 * 1000 / W, y1 * 1000 / H, x2 * 1000 / W, y2 * 1000 / H]
    elif box_format == "norm":
        pred = [x1 / W, y1 / H, x2 / W, y2 / H]
    else:  # pixels of the processor-resized image: what the processor really produced
        pixels = family.encode([s])["image_grid_thw"][0]  # [t, h/patch, w/patch]
        patch = family.processor.image_processor.patch_size
        rh, rw = int(pixels[1]) * patch, int(pixels[2]) * patch
        assert s.meta["resized_size"] == [rw, rh] and f"{rw}x{rh}" in s.prompt
        pred = [x1 * rw / W, y1 * rh / H, x2 * rw / W, y2 * rh / H]
    got = REWARDS.get("grounding")([f"<answer>{pred}</answer>"], [s])
    assert got["iou"] == [pytest.approx(1.0)]
    # an explicit data.task_kwargs wins over the family
    cfg2 = load_config(
        None,
        [f"model.name_or_path={model}", "data.task=ground", "data.task_kwargs={box_format: abs}"],
    )
    assert make_task(cfg2, family).generate(0, 2).meta["box_format"] == "abs"
