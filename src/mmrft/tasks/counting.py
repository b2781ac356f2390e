"""Counting: "How many shapes are in the image?" over procedurally drawn scenes.

Design note: the scene is N flat-coloured circles, squares and triangles on a white background,
drawn with PIL at integer pixel coordinates (PIL fills without anti-aliasing, so every shape
pixel carries exactly its RGB and a test can recount from pixels). A ``random.Random`` seeded
from ``(seed, level)`` draws the layout and a ``numpy`` Generator seeded the same way draws the
level-5 speckle, so a sample is a pure function of ``(kwargs, seed, level)``, and one seed gives
unrelated scenes at different levels.

Levels (``LEVELS``; ``count_range`` in the constructor overrides the count range):

    level  count  overlap                         background
    1      1-3    none, >= 2 px gap between boxes  plain
    2      1-5    none                             plain
    3      1-7    none                             plain
    4      1-9    none                             plain
    5      1-9    partial (<= 25% of a box, only   3% grey speckle
                  between different colours)

At levels 1-4 bounding boxes keep a 2 px gap so the count is unambiguous; at level 5 boxes may
overlap, but only shapes of different colours and never more than 25% of either box in total,
so every shape stays visibly distinct. Layouts come from rejection sampling with bounded tries
(restart the scene, then give up with a RuntimeError naming the limits).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from PIL import Image, ImageDraw

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]  # [x0, y0, x1, y1), half-open: x1 - x0 == size

BACKGROUND: RGB = (255, 255, 255)
# Saturated and far apart in hue; no yellow (too close to the white background).
COLOURS: dict[str, RGB] = {
    "red": (230, 25, 75),
    "green": (60, 180, 75),
    "blue": (0, 130, 200),
    "orange": (245, 130, 48),
    "purple": (145, 30, 180),
}
EDGE = 2  # px kept free along the image border
GAP = 2  # px between bounding boxes that must not touch
TRIES_PER_SHAPE = 200
SCENE_RESTARTS = 20


def _circle(draw: ImageDraw.ImageDraw, box: Box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    draw.ellipse([x0, y0, x1 - 1, y1 - 1], fill=rgb)


def _square(draw: ImageDraw.ImageDraw, box: Box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=rgb)


def _triangle(draw: ImageDraw.ImageDraw, box: Box, rgb: RGB) -> None:
    x0, y0, x1, y1 = box
    draw.polygon([(x0, y1 - 1), (x1 - 1, y1 - 1), ((x0 + x1 - 1) // 2, y0)], fill=rgb)


SHAPES: dict[str, Callable[[ImageDraw.ImageDraw, Box, RGB], None]] = {
    "circle": _circle,
    "square": _square,
    "triangle": _triangle,
}


@dataclass(frozen=True)
class LevelSpec:
    """What one difficulty level changes."""

    count: tuple[int, int]
    """Inclusive range the number of shapes is drawn from (uniformly)."""
    max_overlap: float = 0.0
    """Largest fraction of a box that other boxes may cover; 0 means boxes keep a GAP apart."""
    noise: float = 0.0
    """Fraction of pixels painted a random light grey before the shapes are drawn."""


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec(count=(1, 3)),
    2: LevelSpec(count=(1, 5)),
    3: LevelSpec(count=(1, 7)),
    4: LevelSpec(count=(1, 9)),
    5: LevelSpec(count=(1, 9), max_overlap=0.25, noise=0.03),
}


def _intersection(a: Box, b: Box, pad: int) -> int:
    """Area shared by ``a`` grown by ``pad`` on every side and ``b`` (0 when apart)."""
    w = min(a[2] + pad, b[2]) - max(a[0] - pad, b[0])
    h = min(a[3] + pad, b[3]) - max(a[1] - pad, b[1])
    return max(w, 0) * max(h, 0)


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


@dataclass
class _Placed:
    """A shape during layout; ``covered`` sums the area other boxes overlap (level 5 only)."""

    kind: str
    colour: str
    size: int
    box: Box = (0, 0, 0, 0)
    covered: int = 0

    def to_meta(self) -> dict[str, Any]:
        rgb = list(COLOURS[self.colour])
        return {"kind": self.kind, "colour": self.colour, "rgb": rgb, "bbox": list(self.box)}


def _overlaps_if_allowed(new: _Placed, placed: list[_Placed], spec: LevelSpec) -> list[int] | None:
    """Area ``new`` shares with each placed box, or None if the level forbids this spot."""
    overlaps = []
    for other in placed:
        if _intersection(new.box, other.box, GAP) == 0:
            overlaps.append(0)  # apart by at least GAP: always fine
            continue
        # Touching is allowed only at overlap levels and only between different colours
        # (same-coloured shapes that touch read as one blob).
        if spec.max_overlap == 0.0 or other.colour == new.colour:
            return None
        area = _intersection(new.box, other.box, 0)
        if other.covered + area > spec.max_overlap * _area(other.box):
            return None
        overlaps.append(area)
    if sum(overlaps) > spec.max_overlap * _area(new.box):
        return None
    return overlaps


def render_shapes(
    objects: list[dict[str, Any]],
    image_size: int,
    noise: float = 0.0,
    noise_seed: list[int] | None = None,
) -> Image.Image:
    """Draw ``objects`` (``shape_meta`` records) on white, over a grey speckle if ``noise``.

    The speckle's greys (170-225) are never a palette colour, so shapes stay findable by RGB.
    """
    n = image_size
    pixels = np.full((n, n, 3), BACKGROUND, dtype=np.uint8)
    if noise:
        gen = np.random.default_rng(noise_seed)
        mask = gen.random((n, n)) < noise
        pixels[mask] = gen.integers(170, 226, size=(int(mask.sum()), 1), dtype=np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    for obj in objects:
        SHAPES[obj["kind"]](draw, tuple(obj["bbox"]), tuple(obj["rgb"]))
    return image


@TASKS.register("count")
class CountingTask(Task):
    """Count flat-coloured shapes. ``answer`` is the count as a decimal string.

    Args:
        image_size: side of the square image in pixels.
        min_shape: smallest shape side in pixels; default ``round(image_size * 12 / 112)``.
        max_shape: largest shape side in pixels; default ``round(image_size * 22 / 112)``.
        count_range: inclusive ``(lo, hi)`` that replaces every level's count range.

    >>> s = CountingTask().generate(seed=7, level=2)
    >>> s.prompt, s.answer == str(len(s.meta["objects"])), s.images[0].size
    ('How many shapes are in the image?', True, (112, 112))
    """

    name = "count"
    description = "Count the circles, squares and triangles in a synthetic image."
    reward_name = "count"
    levels = tuple(LEVELS)
    prompt_template: ClassVar[str] = "How many {noun} are in the image?"
    """Kept as a template so a variant can ask about one colour or kind ("red shapes")."""

    def __init__(
        self,
        image_size: int = 112,
        min_shape: int | None = None,
        max_shape: int | None = None,
        count_range: tuple[int, int] | None = None,
    ) -> None:
        self.image_size = image_size
        self.min_shape = min_shape if min_shape is not None else round(image_size * 12 / 112)
        self.max_shape = max_shape if max_shape is not None else round(image_size * 22 / 112)
        self.count_range = tuple(count_range) if count_range is not None else None
        if not 4 <= self.min_shape <= self.max_shape <= image_size - 2 * EDGE:
            raise ValueError(
                f"need 4 <= min_shape <= max_shape <= image_size - {2 * EDGE}, got "
                f"min_shape={self.min_shape}, max_shape={self.max_shape}, image_size={image_size}"
            )
        if self.count_range is not None and not 0 <= self.count_range[0] <= self.count_range[1]:
            raise ValueError(f"count_range must be (lo, hi) with 0 <= lo <= hi, got {count_range}")

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        lo, hi = self.count_range or spec.count
        # Level is mixed into the seed so that one seed gives unrelated scenes at each level
        # (str seeds are hashed with SHA-512: stable across processes and platforms).
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        objects = self._layout(rng, rng.randint(lo, hi), spec, seed)
        image = self._render(objects, spec, (seed, level))
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=self.prompt_template.format(noun="shapes"),
            answer=str(len(objects)),
            images=[image],
            task=self.name,
            meta={"level": level, "seed": seed, "image_size": self.image_size, "objects": objects},
        )

    def _layout(
        self, rng: random.Random, count: int, spec: LevelSpec, seed: int
    ) -> list[dict[str, Any]]:
        """Kinds, colours and non-conflicting boxes for ``count`` shapes (rejection sampling)."""
        for _ in range(SCENE_RESTARTS):
            placed: list[_Placed] = []
            for _ in range(count):
                kind = rng.choice(list(SHAPES))
                colour = rng.choice(list(COLOURS))
                size = rng.randint(self.min_shape, self.max_shape)
                if not self._place(rng, _Placed(kind, colour, size), placed, spec):
                    break
            else:
                return [p.to_meta() for p in placed]
        raise RuntimeError(
            f"could not place {count} shapes of {self.min_shape}-{self.max_shape} px in a "
            f"{self.image_size} px image (seed {seed}); lower the count or the shape size"
        )

    def _place(
        self, rng: random.Random, new: _Placed, placed: list[_Placed], spec: LevelSpec
    ) -> bool:
        """Try random spots for ``new``; on the first allowed one, append it and return True."""
        hi = self.image_size - EDGE - new.size
        for _ in range(TRIES_PER_SHAPE):
            x0, y0 = rng.randint(EDGE, hi), rng.randint(EDGE, hi)
            new.box = (x0, y0, x0 + new.size, y0 + new.size)
            overlaps = _overlaps_if_allowed(new, placed, spec)
            if overlaps is not None:
                for other, area in zip(placed, overlaps, strict=True):
                    other.covered += area
                new.covered = sum(overlaps)
                placed.append(new)
                return True
        return False

    def _render(
        self, objects: list[dict[str, Any]], spec: LevelSpec, seed: tuple[int, int]
    ) -> Image.Image:
        return render_shapes(objects, self.image_size, spec.noise, list(seed))
