"""The two-image comparison task: circles counted from each image's pixels."""

import numpy as np
import pytest
from scipy import ndimage

from mmrft.tasks import TASKS
from mmrft.tasks.counting import COLOURS
from mmrft.tasks.multi_image import LEVELS

EIGHT = np.ones((3, 3), dtype=bool)


def count_from_pixels(image):
    """``(circles, other shapes)``: blobs of a palette colour, circles by fill ratio ~ pi/4."""
    pixels = np.asarray(image).astype(int)
    circles = others = 0
    for rgb in COLOURS.values():
        labels, _ = ndimage.label((pixels == rgb).all(-1), structure=EIGHT)
        for k, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
            fill = (labels[rows, cols] == k).mean()
            if 0.65 < fill < 0.95:
                circles += 1
            else:
                others += 1
    return circles, others


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_answer_from_pixels(level):
    task = TASKS.get("compare_count")()
    spec = LEVELS[level]
    answers = []
    for seed in range(50):
        sample = task.generate(seed, level)
        assert len(sample.images) == 2
        (c1, o1), (c2, o2) = (count_from_pixels(im) for im in sample.images)
        assert [c1, c2] == sample.meta["circles"]
        assert sample.answer == ("A" if c1 > c2 else "B")
        diff = abs(c1 - c2)
        assert diff == 1 if spec.exact_diff else diff >= spec.min_diff
        assert spec.distractors[0] <= min(o1, o2) <= max(o1, o2) <= spec.distractors[1]
        answers.append(sample.answer)
    assert 10 <= answers.count("A") <= 40


def test_distractors_mislead_a_total_count():
    """From level 3 on, "the image with more shapes" is often not "the one with more circles"."""
    task = TASKS.get("compare_count")()
    misled = 0
    for seed in range(100):
        s = task.generate(seed, 4)
        totals = [len(scene) for scene in s.meta["scenes"]]
        misled += (totals[0] > totals[1]) != (s.answer == "A")
    assert misled >= 20
