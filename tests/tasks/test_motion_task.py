"""The video task: answers recomputed from the frames' pixels, determinism, the reward."""

from __future__ import annotations

import numpy as np
import pytest
from family_checks import check_contract, gold_scores

from mmrft.tasks import TASKS
from mmrft.tasks.counting import COLOURS


@pytest.fixture(scope="module")
def task():
    return TASKS.get("motion")()


def _centres(frames, colour) -> list[tuple[float, float]]:
    """Centre of the pixels of exactly ``colour`` in each frame (second route: pixels only)."""
    out = []
    for frame in frames:
        px = np.asarray(frame)
        ys, xs = np.nonzero((px == COLOURS[colour]).all(-1))
        assert len(xs) > 0, f"{colour} shape missing from a frame"
        out.append(((xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2))
    return out


def _direction(c: list[tuple[float, float]]) -> str:
    dx, dy = c[-1][0] - c[0][0], c[-1][1] - c[0][1]
    horiz = "left" if dx < 0 else "right" if dx > 0 else ""
    vert = "up" if dy < 0 else "down" if dy > 0 else ""
    return f"{vert}-{horiz}" if vert and horiz else vert or horiz


def _answer_from_pixels(sample) -> str:
    objects, question = sample.meta["objects"], sample.meta["question"]
    text = sample.prompt
    if question == "direction":
        colour = next(
            (o["colour"] for o in objects if f"the {o['colour']} " in text), objects[0]["colour"]
        )
        return _direction(_centres(sample.images, colour))
    if question == "farthest":
        dist = {}
        for o in objects:
            c = _centres(sample.images, o["colour"])
            dist[f"the {o['colour']} {o['kind']}"] = sum(
                np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(c, c[1:], strict=False)
            )
        return max(dist, key=dist.get)
    xs = [x for x, _ in _centres(sample.images, objects[0]["colour"])]
    moves = [np.sign(b - a) for a, b in zip(xs, xs[1:], strict=False)]
    return str(sum(a != b for a, b in zip(moves, moves[1:], strict=False)))


def test_contract(task):
    check_contract(task)


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_answers_match_what_the_pixels_show(task, level):
    for seed in range(40):
        s = task.generate(seed, level)
        letter_to_text = dict(zip("ABCD", s.meta["options"], strict=False))
        assert letter_to_text[s.answer] == _answer_from_pixels(s), s.id
        assert s.meta["video"] and len(s.images) == (4 if level <= 2 else 6)


def test_answers_are_spread_and_difficulty_rises(task):
    for level in task.levels:
        answers = {task.generate(seed, level).answer for seed in range(60)}
        assert len(answers) >= 3, level  # not one constant option
    n_objects = [len(task.generate(0, lv).meta["objects"]) for lv in (1, 2, 3)]
    assert n_objects == [1, 2, 3]


def test_shapes_never_touch_in_any_frame(task):
    for seed in range(30):
        s = task.generate(seed, 3)
        for f in range(len(s.images)):
            boxes = [o["boxes"][f] for o in s.meta["objects"]]
            for i in range(len(boxes)):
                for j in range(i):
                    a, b = boxes[i], boxes[j]
                    assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def test_reward_accepts_gold_and_rejects_another_option(task):
    samples = [task.generate(seed, level) for level in task.levels for seed in range(5)]
    assert gold_scores(task, samples)["accuracy"] == [1.0] * len(samples)
    from mmrft.rewards import REWARDS

    wrong = [next(c for c in "ABCD" if c != s.answer) for s in samples]
    scores = REWARDS.get("choice")([f"<answer>{w}</answer>" for w in wrong], samples)
    assert scores["accuracy"] == [0.0] * len(samples)
