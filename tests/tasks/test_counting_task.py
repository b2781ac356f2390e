"""The counting task: determinism, and answers re-derived independently from the pixels."""

import hashlib
import io
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from scipy import ndimage

from mmrft.tasks import TASKS
from mmrft.tasks.counting import BACKGROUND, COLOURS, GAP, LEVELS, SHAPES

SEEDS = range(200)
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)  # triangle apexes can join only diagonally


def png_bytes(sample) -> bytes:
    buf = io.BytesIO()
    sample.images[0].save(buf, format="PNG")
    return buf.getvalue()


def fields(sample) -> tuple:
    return sample.id, sample.prompt, sample.answer, sample.task, sample.meta


@pytest.fixture(scope="module")
def task():
    return TASKS.get("count")()


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_same_seed_same_bytes(task, level):
    a, b = task.generate(5, level), task.generate(5, level)
    assert png_bytes(a) == png_bytes(b)
    assert fields(a) == fields(b)
    c = task.generate(6, level)
    assert png_bytes(a) != png_bytes(c)


def test_deterministic_across_processes(task):
    # String seeds go through SHA-512, not hash(), so PYTHONHASHSEED must not matter.
    code = (
        "import io, hashlib; from mmrft.tasks import TASKS; b = io.BytesIO(); "
        "TASKS.get('count')().generate(123, 5).images[0].save(b, format='PNG'); "
        "print(hashlib.sha256(b.getvalue()).hexdigest())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "7"},
    )
    assert out.stdout.strip() == hashlib.sha256(png_bytes(task.generate(123, 5))).hexdigest()


def test_levels_give_unrelated_scenes(task):
    assert task.generate(3, 4).meta["objects"] != task.generate(3, 5).meta["objects"]


def test_train_and_heldout_never_share_a_problem(task):
    train, held = task.dataset(100, seed=0, level=2), task.dataset(100, seed=10_000, level=2)
    assert not {s.id for s in train} & {s.id for s in held}
    assert not {png_bytes(s) for s in train} & {png_bytes(s) for s in held}
    assert [fields(s) for s in train] == [fields(s) for s in task.dataset(100, seed=0, level=2)]


def check_scene(task, sample, level):
    """Checks that hold at every level: meta agrees with answer, range and geometry."""
    objects = sample.meta["objects"]
    lo, hi = LEVELS[level].count
    assert sample.answer == str(len(objects))
    assert lo <= len(objects) <= hi
    assert sample.meta["level"] == level and sample.meta["image_size"] == task.image_size
    assert sample.images[0].mode == "RGB"
    assert sample.images[0].size == (task.image_size, task.image_size)
    for obj in objects:
        x0, y0, x1, y1 = obj["bbox"]
        assert 0 <= x0 < x1 <= task.image_size and 0 <= y0 < y1 <= task.image_size
        assert task.min_shape <= x1 - x0 == y1 - y0 <= task.max_shape
        assert obj["kind"] in SHAPES and tuple(obj["rgb"]) == COLOURS[obj["colour"]]


@pytest.mark.parametrize("level", [1, 2, 3, 4])
def test_count_recovered_from_pixels(task, level):
    seen = set()
    for seed in SEEDS:
        sample = task.generate(seed, level)
        check_scene(task, sample, level)
        pixels = np.asarray(sample.images[0])
        labels, n = ndimage.label((pixels != BACKGROUND).any(-1), structure=EIGHT_CONNECTED)
        assert str(n) == sample.answer, f"seed {seed}: {n} blobs, answer {sample.answer}"
        boxes = [obj["bbox"] for obj in sample.meta["objects"]]
        matched = []
        for k, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
            # Each blob is one flat colour and lies inside exactly one object's box.
            colours = np.unique(pixels[labels == k], axis=0).tolist()
            inside = [
                i
                for i, (x0, y0, x1, y1) in enumerate(boxes)
                if x0 <= cols.start and cols.stop <= x1 and y0 <= rows.start and rows.stop <= y1
            ]
            assert len(inside) == 1 and colours == [sample.meta["objects"][inside[0]]["rgb"]]
            matched += inside
        assert sorted(matched) == list(range(len(boxes)))
        # Boxes keep the gap at levels 1-4.
        for i, a in enumerate(boxes):
            for b in boxes[i + 1 :]:
                apart_x = a[2] + GAP <= b[0] or b[2] + GAP <= a[0]
                apart_y = a[3] + GAP <= b[1] or b[3] + GAP <= a[1]
                assert apart_x or apart_y
        seen.add(len(boxes))
    lo, hi = LEVELS[level].count
    assert seen == set(range(lo, hi + 1))


def test_level5_shapes_stay_visible(task):
    overlapped = 0
    for seed in SEEDS:
        sample = task.generate(seed, 5)
        check_scene(task, sample, 5)
        pixels = np.asarray(sample.images[0])
        objects = sample.meta["objects"]
        for obj in objects:
            x0, y0, x1, y1 = obj["bbox"]
            own = (pixels[y0:y1, x0:x1] == obj["rgb"]).all(-1).sum()
            assert own >= 0.2 * (x1 - x0) * (y1 - y0), f"seed {seed}: {obj} mostly hidden"
        for i, a in enumerate(objects):
            for b in objects[i + 1 :]:
                (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a["bbox"], b["bbox"]
                if min(ax1, bx1) > max(ax0, bx0) and min(ay1, by1) > max(ay0, by0):
                    overlapped += 1
                    assert a["colour"] != b["colour"]
        background = (pixels == BACKGROUND).all(-1).mean()
        assert background < 0.99  # the speckle is there
    assert overlapped > 20  # level 5 really does overlap


def test_count_range_and_image_size_kwargs():
    task = TASKS.get("count")(image_size=224, count_range=(1, 6))
    assert (task.min_shape, task.max_shape) == (24, 44)
    counts = {len(task.generate(s, 1).meta["objects"]) for s in range(100)}
    assert counts == set(range(1, 7))
    assert task.generate(0, 1).images[0].size == (224, 224)


@pytest.mark.parametrize(
    "kwargs",
    [{"min_shape": 30, "max_shape": 20}, {"min_shape": 2}, {"count_range": (5, 2)}],
)
def test_bad_kwargs_raise(kwargs):
    with pytest.raises(ValueError):
        TASKS.get("count")(**kwargs)


def test_impossible_scene_raises_clearly():
    task = TASKS.get("count")(image_size=40, min_shape=30, max_shape=30, count_range=(3, 3))
    with pytest.raises(RuntimeError, match="could not place 3 shapes"):
        task.generate(0, 1)


def test_bad_level_raises(task):
    with pytest.raises(ValueError, match="levels"):
        task.generate(0, 6)


def test_fast_enough(task):
    start = time.perf_counter()
    for seed in range(200):
        task.generate(seed, 5)
    per_sample_ms = (time.perf_counter() - start) / 200 * 1000
    assert per_sample_ms < 5, f"{per_sample_ms:.2f} ms per sample"
