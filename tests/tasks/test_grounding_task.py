"""The grounding task: the described shape is found again from pixels and the phrase alone."""

import numpy as np
import pytest
from scipy import ndimage

from mmrft.rewards import REWARDS
from mmrft.rewards.grounding import parse_boxes
from mmrft.tasks import TASKS
from mmrft.tasks.counting import COLOURS
from mmrft.tasks.grounding import LEVELS, SIZE_RATIO

SEEDS = range(60)
EIGHT = np.ones((3, 3), dtype=bool)


@pytest.fixture(scope="module")
def task():
    return TASKS.get("ground")()


def shapes_from_pixels(image):
    """Every shape as ``(colour, kind, [x0, y0, x1, y1))``, kind guessed from its fill ratio."""
    pixels = np.asarray(image).astype(int)
    found = []
    for colour, rgb in COLOURS.items():
        labels, n = ndimage.label((pixels == rgb).all(-1), structure=EIGHT)
        for k, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
            area = (labels[rows, cols] == k).sum()
            fill = area / ((rows.stop - rows.start) * (cols.stop - cols.start))
            kind = "square" if fill > 0.95 else "circle" if fill > 0.65 else "triangle"
            found.append((colour, kind, [cols.start, rows.start, cols.stop, rows.stop]))
    return found


def resolve(description, shapes):
    """Pick the shapes a phrase such as "the small red circle" names, by its words."""
    words = description.split()[1:]
    kind = words[-1]
    matches = [s for s in shapes if s[1] == kind]
    if len(words) >= 2:
        matches = [s for s in matches if s[0] == words[-2]]
    if len(words) == 3:
        side = lambda s: s[2][2] - s[2][0]  # noqa: E731
        pick = min if words[0] == "small" else max
        best = pick(matches, key=side)
        rest = [side(s) for s in matches if s is not best]
        ratio = (min(rest) / side(best)) if words[0] == "small" else (side(best) / max(rest))
        assert ratio >= SIZE_RATIO * 0.9  # clearly different sizes (1 px pixel slack)
        matches = [best]
    return matches


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_target_found_from_phrase_and_pixels(task, level):
    size_words = 0
    for seed in SEEDS:
        sample = task.generate(seed, level)
        shapes = shapes_from_pixels(sample.images[0])
        assert len(shapes) == len(sample.meta["objects"])
        hit = resolve(sample.meta["description"], shapes)
        assert len(hit) == 1, (seed, sample.meta["description"], shapes)
        (gold,) = parse_boxes(sample.answer)
        assert np.abs(np.array(gold) - hit[0][2]).max() <= 1
        assert sample.meta["description"] in sample.prompt
        size_words += len(sample.meta["description"].split()) == 4
    if LEVELS[level].twin:
        assert size_words == len(SEEDS)


def test_box_format_kwarg_and_reward():
    task = TASKS.get("ground")(box_format="rel1000", image_size=200)
    sample = task.generate(3, 2)
    assert sample.meta["box_format"] == "rel1000" and sample.meta["image_size"] == [200, 200]
    assert "0-1000" in sample.prompt
    x0, y0, x1, y1 = parse_boxes(sample.answer)[0]
    rel = [round(v * 1000 / 200) for v in (x0, y0, x1, y1)]  # 1000 / 200 = 5 exactly
    scores = REWARDS.get("grounding")([f"<answer>{rel}</answer>"], [sample])
    assert scores["iou"] == [1.0]
    abs_scores = REWARDS.get("grounding")([f"<answer>{sample.answer}</answer>"], [sample])
    assert abs_scores["iou"][0] < 0.5  # an abs box read as rel1000 is wrong


def test_bad_kwargs_raise():
    with pytest.raises(ValueError):
        TASKS.get("ground")(box_format="resized")
    with pytest.raises(ValueError):
        TASKS.get("ground")(min_shape=20, max_shape=24)
