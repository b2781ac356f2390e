"""The handwritten-digits task: each cell's pixels are read back to its scikit-learn digit, and
the answer is recomputed from the dataset's labels."""

import numpy as np
import pytest

pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402

from mmrft.tasks import TASKS  # noqa: E402
from mmrft.tasks.digits import LEVELS, TRAIN_ROWS  # noqa: E402


@pytest.fixture(scope="module")
def data():
    d = load_digits()
    return d.images, d.target


@pytest.fixture(scope="module")
def task():
    return TASKS.get("digits")()


def expected(op, labels, per_row):
    if op == "read":
        return labels[0]
    if op in ("number", "top_number"):
        shown = labels if op == "number" else labels[:per_row]
        return sum(d * 10**k for k, d in enumerate(reversed(shown)))
    return {"sum": sum, "max": max, "min": min}[op](labels)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_cells_match_dataset_and_answer(task, data, level):
    images, target = data
    ops = set()
    for seed in range(40):
        sample = task.generate(seed, level)
        meta, scale = sample.meta, sample.meta["scale"]
        grey = np.asarray(sample.images[0].convert("L")).astype(int)
        ink = np.zeros_like(grey, dtype=bool)
        labels = []
        for d in meta["digits"]:
            x, y = d["xy"]
            # every scale-th pixel: one per source pixel
            cell = grey[y : y + 8 * scale : scale, x : x + 8 * scale : scale]
            level16 = np.round((255 - cell) * 16 / 255)
            assert (level16 == images[d["row"]]).all(), (seed, d)
            ink[y : y + 8 * scale, x : x + 8 * scale] = True
            labels.append(int(target[d["row"]]))
        assert (grey[~ink] == 255).all()  # nothing drawn outside the digit cells
        lo, hi = LEVELS[level].count
        assert lo <= len(labels) <= hi
        assert sample.answer == str(expected(meta["op"], labels, meta["per_row"]))
        ops.add(meta["op"])
    assert ops == set(LEVELS[level].ops)


def test_splits_are_disjoint():
    train = {
        d["row"]
        for s in TASKS.get("digits")(split="train").dataset(100, 0, 5)
        for d in s.meta["digits"]
    }
    test = {
        d["row"]
        for s in TASKS.get("digits")(split="test").dataset(100, 0, 5)
        for d in s.meta["digits"]
    }
    assert max(train) < TRAIN_ROWS <= min(test)


def test_bad_kwargs_raise():
    with pytest.raises(ValueError):
        TASKS.get("digits")(split="val")
    with pytest.raises(ValueError):
        TASKS.get("digits")(scale=5)
