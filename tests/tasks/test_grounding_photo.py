"""Grounding on real photos: the gold box is found again from what the pasting changed."""

import numpy as np
import pytest
from matplotlib import cbook
from PIL import Image
from scipy import ndimage
from sklearn.datasets import load_sample_image

from mmrft.rewards import REWARDS
from mmrft.rewards.grounding import parse_boxes
from mmrft.tasks import TASKS
from mmrft.tasks.grounding import LEVELS

EIGHT = np.ones((3, 3), dtype=bool)


def plain_crop(background, size):
    """The photo crop without shapes, rebuilt through the packages' own public loaders."""
    name, (x0, y0, x1, y1) = background["photo"], background["crop"]
    if name == "grace_hopper":
        with cbook.get_sample_data("grace_hopper.jpg") as f:
            photo = Image.open(f).convert("RGB")
    else:
        photo = Image.fromarray(load_sample_image(f"{name}.jpg"))
    return photo.crop((x0, y0, x1, y1)).resize((size, size), Image.Resampling.BILINEAR)


def changed_boxes(image, plain):
    """Boxes ``[x0, y0, x1, y1)`` of the 8-connected regions where ``image`` differs."""
    changed = (np.asarray(image) != np.asarray(plain)).any(-1)
    labels, _ = ndimage.label(changed, structure=EIGHT)
    return [[c.start, r.start, c.stop, r.stop] for r, c in ndimage.find_objects(labels)]


@pytest.fixture(scope="module")
def task():
    return TASKS.get("ground")(background="photo")


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_boxes_recovered_from_the_difference_with_the_plain_crop(task, level):
    photos = set()
    for seed in range(30):
        sample = task.generate(seed, level)
        meta = sample.meta
        photos.add(meta["background"]["photo"])
        plain = plain_crop(meta["background"], task.image_size)
        found = changed_boxes(sample.images[0], plain)
        # Shapes keep a 2 px gap, so each is its own region, and nothing else changed.
        assert sorted(found) == sorted(o["bbox"] for o in meta["objects"]), (seed, level)
        (gold,) = parse_boxes(sample.answer)
        assert list(gold) in found
        # The target's own colour fills the inside of that region.
        x0, y0, x1, y1 = (int(v) for v in gold)
        inside = np.asarray(sample.images[0])[y0:y1, x0:x1]
        rgb = meta["objects"][meta["target"]]["rgb"]
        assert (inside == rgb).all(-1).mean() > 0.3
        words = meta["description"].split()  # "the [small] [green] triangle"
        if len(words) >= 3:
            assert words[-2] == meta["objects"][meta["target"]]["colour"]
    assert len(photos) >= 2  # the seed picks among the shipped photos


def test_deterministic_and_seed_dependent(task):
    a, b = task.generate(11, 4), task.generate(11, 4)
    assert a.images[0].tobytes() == b.images[0].tobytes() and a.meta == b.meta
    c = task.generate(12, 4)
    assert c.meta["background"] != a.meta["background"]
    # The scene is the plain task's scene: only the background differs.
    plain = TASKS.get("ground")().generate(11, 4)
    assert (plain.answer, plain.prompt) == (a.answer, a.prompt)
    assert plain.meta["background"] == "plain"


def test_reward_gives_full_marks_to_the_gold_box(task):
    samples = [task.generate(seed, 3) for seed in range(5)]
    completions = [f"<think>there</think><answer>{s.answer}</answer>" for s in samples]
    assert REWARDS.get("grounding")(completions, samples)["overall"] == [1.0] * 5
    wrong = ["<answer>[0, 0, 3, 3]</answer>" for _ in samples]
    assert max(REWARDS.get("grounding")(wrong, samples)["overall"]) < 0.5


def test_unknown_background_raises():
    with pytest.raises(ValueError, match="background must be one of"):
        TASKS.get("ground")(background="noise")
