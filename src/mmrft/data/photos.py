"""Real photographs that ship inside installed packages, for task backgrounds (no download).

Design note: scikit-learn and matplotlib are mmrft dependencies and each carries sample photos
in its package data, so tasks can draw on real image statistics offline and in CI. A crop is
named by ``(photo, box)`` in the photo's own pixels and resized with one fixed filter, so the
same record always gives the same pixels (on one Pillow build; JPEG decoders may differ across
builds) and a test can rebuild the plain background to compare against.

    name          file (the same pixels as ...)                          size (W x H)
    china         sklearn/datasets/images/china.jpg                      640 x 427
                  (sklearn.datasets.load_sample_image("china.jpg"))
    flower        sklearn/datasets/images/flower.jpg                     640 x 427
                  (sklearn.datasets.load_sample_image("flower.jpg"))
    grace_hopper  matplotlib/mpl-data/sample_data/grace_hopper.jpg       512 x 600
                  (matplotlib.cbook.get_sample_data("grace_hopper.jpg"))
"""

from __future__ import annotations

import functools
import importlib.util
import random
from collections.abc import Callable
from pathlib import Path

from PIL import Image

Box = tuple[int, int, int, int]  # [x0, y0, x1, y1), half-open
RESAMPLE = Image.Resampling.BILINEAR


def _package_file(package: str, *parts: str) -> Callable[[], Image.Image]:
    """A loader for a file inside an installed package, found without importing the package
    (importing scikit-learn costs seconds; reading its JPEG costs milliseconds)."""

    def load() -> Image.Image:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(f"package {package!r} is not installed; it ships this photo")
        path = Path(next(iter(spec.submodule_search_locations)), *parts)
        with Image.open(path) as image:
            return image.convert("RGB")

    return load


PHOTOS: dict[str, Callable[[], Image.Image]] = {
    "china": _package_file("sklearn", "datasets", "images", "china.jpg"),
    "flower": _package_file("sklearn", "datasets", "images", "flower.jpg"),
    "grace_hopper": _package_file("matplotlib", "mpl-data", "sample_data", "grace_hopper.jpg"),
}


@functools.cache
def load_photo(name: str) -> Image.Image:
    """The full RGB photo ``name`` (one of ``PHOTOS``); cached, so do not draw on it."""
    if name not in PHOTOS:
        raise KeyError(f"unknown photo {name!r}; known: {sorted(PHOTOS)}")
    return PHOTOS[name]()


def photo_crop(name: str, box: Box, size: int) -> Image.Image:
    """The square ``box`` of photo ``name`` resized to ``size x size`` (a new image)."""
    return load_photo(name).crop(box).resize((size, size), RESAMPLE)


def random_crop(rng: random.Random, size: int) -> tuple[str, Box]:
    """A photo and a square box in it, side between ``size`` and the photo's shorter side.

    Sides above ``size`` zoom out (the crop is shrunk to ``size``), so scenes see both close-up
    texture and whole objects. Draws only from ``rng``.
    """
    name = rng.choice(sorted(PHOTOS))
    width, height = load_photo(name).size
    short = min(width, height)
    side = rng.randint(min(size, short), short)
    x0, y0 = rng.randint(0, width - side), rng.randint(0, height - side)
    return name, (x0, y0, x0 + side, y0 + side)
