"""The spatial task: answers re-derived from the pixels with an independent rule implementation."""

import math

import numpy as np
import pytest

from mmrft.rewards.choice import parse_choice
from mmrft.tasks import TASKS
from mmrft.tasks.spatial import LEVELS, MARGIN, NEAREST_RATIO

SEEDS = range(60)


@pytest.fixture(scope="module")
def task():
    return TASKS.get("spatial")()


def pixel_boxes(sample):
    """Each shape's box found from its (unique) colour: ``[x0, y0, x1, y1)``."""
    pixels = np.asarray(sample.images[0]).astype(int)
    boxes = []
    for obj in sample.meta["objects"]:
        ys, xs = np.nonzero((pixels == obj["rgb"]).all(-1))
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    return boxes


def centre(b):
    return (b[0] + b[2]) / 2, (b[1] + b[3]) / 2


def _in_line(a, b, c) -> bool:
    """b shares at least a third of its extent, across the row, with both a and c."""

    def shared(p, q, lo, hi):
        return min(p[hi], q[hi]) - max(p[lo], q[lo])

    horizontal = a[2] < b[0]
    lo, hi = (1, 3) if horizontal else (0, 2)
    need = (b[hi] - b[lo]) / 3
    return shared(a, b, lo, hi) >= need and shared(b, c, lo, hi) >= need


def gold_from_pixels(sample, boxes):
    """The option text the question's rule picks, computed from pixel boxes."""
    q, names = sample.meta["question"], [o["name"] for o in sample.meta["objects"]]
    if q["kind"] == "relation":
        a, b = boxes[q["subject"]], boxes[q["reference"]]
        if a[2] < b[0]:
            return "left of"
        if b[2] < a[0]:
            return "right of"
        return "above" if a[3] < b[1] else "below"
    if q["kind"] == "extreme":
        axis = 0 if "left" in q["direction"] or "right" in q["direction"] else 1
        pick = min if "left" in q["direction"] or "top" in q["direction"] else max
        return names[pick(range(len(boxes)), key=lambda i: centre(boxes[i])[axis])]
    if q["kind"] == "between":  # strictly inside the gap between the two ends, along one axis
        i, j = q["ends"]
        a, c = boxes[i], boxes[j]
        inside = [
            k
            for k, b in enumerate(boxes)
            if k not in (i, j)
            and ((a[2] < b[0] and b[2] < c[0]) or (a[3] < b[1] and b[3] < c[1]))
            and _in_line(a, b, c)
        ]
        assert len(inside) == 1, sample.id
        return names[inside[0]]
    ref = centre(boxes[q["reference"]])
    others = [i for i in range(len(boxes)) if i != q["reference"]]
    return names[min(others, key=lambda i: math.dist(centre(boxes[i]), ref))]


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_answer_recovered_from_pixels(task, level):
    kinds = set()
    for seed in SEEDS:
        sample = task.generate(seed, level)
        objects, options = sample.meta["objects"], sample.meta["options"]
        lo, hi = LEVELS[level].count
        assert lo <= len(objects) <= hi
        assert len({o["colour"] for o in objects}) == len(objects)  # every shape nameable
        boxes = pixel_boxes(sample)
        for box, obj in zip(boxes, objects, strict=True):  # pixels fill the box (<= 1 px off)
            assert np.abs(np.array(box) - obj["bbox"]).max() <= 1
        answer_text = gold_from_pixels(sample, boxes)
        assert options[ord(sample.answer) - ord("A")] == answer_text == sample.meta["answer_text"]
        assert parse_choice(sample.answer, options) == sample.answer
        assert len(set(options)) == len(options) >= 2
        assert all(o.split(". ", 1)[-1] in sample.prompt for o in options)
        kinds.add(sample.meta["question"]["kind"])
    assert kinds == set(LEVELS[level].kinds)


def test_margins_hold(task):
    """The rule's margins survive a 1 px pixel error: no question is a near tie."""
    for seed in SEEDS:
        sample = task.generate(seed, 4)
        q, boxes = sample.meta["question"], [o["bbox"] for o in sample.meta["objects"]]
        if q["kind"] == "nearest":
            ref = centre(boxes[q["reference"]])
            d = sorted(
                math.dist(centre(b), ref) for i, b in enumerate(boxes) if i != q["reference"]
            )
            assert d[1] >= NEAREST_RATIO * d[0]
        elif q["kind"] == "relation":
            a, b = boxes[q["subject"]], boxes[q["reference"]]
            gaps = [b[0] - a[2], a[0] - b[2], b[1] - a[3], a[1] - b[3]]
            assert max(gaps) >= MARGIN
            assert sorted(gaps)[-2] < 0  # separated along one axis only


def test_answers_balanced(task):
    letters = [task.generate(seed, 3).answer for seed in range(200)]
    counts = {letter: letters.count(letter) for letter in "ABCD"}
    assert min(counts["A"], counts["B"], counts["C"]) > 25, counts


def test_bad_kwargs_raise():
    with pytest.raises(ValueError):
        TASKS.get("spatial")(min_shape=40)
