"""Multi-image comparison: "Which image has more circles?" over two images in one prompt.

Design note: each sample carries two shape scenes in ``Sample.images`` (prompt order: first,
second). Circle counts always differ, by at least the level's ``min_diff``; from level 3 on,
squares and triangles are mixed in as distractors, so counting every shape gives the wrong
answer about as often as chance. Options (``meta["options"]``, the "choice" reward's key) are
``["the first image", "the second image"]`` in that order; ``answer`` is "A" or "B".
``meta["scenes"]`` lists both scenes' shapes (``kind``, ``colour``, ``rgb``, ``bbox``) and
``meta["circles"]`` their circle counts.

Levels:

    level  circles per image  difference  distractors  background
    1      1-6                >= 3        none         plain
    2      1-8                >= 2        none         plain
    3      1-8                >= 1        0-3          plain
    4      2-9                1           1-4          plain
    5      3-10               1           2-5          3% grey speckle
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import COLOURS
from mmrft.tasks.scene import place_boxes, render_shapes, shape_meta

OPTIONS = ["the first image", "the second image"]
SCENE_RESTARTS = 50


@dataclass(frozen=True)
class LevelSpec:
    circles: tuple[int, int]
    min_diff: int
    exact_diff: bool
    distractors: tuple[int, int]
    noise: float = 0.0


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((1, 6), 3, False, (0, 0)),
    2: LevelSpec((1, 8), 2, False, (0, 0)),
    3: LevelSpec((1, 8), 1, False, (0, 3)),
    4: LevelSpec((2, 9), 1, True, (1, 4)),
    5: LevelSpec((3, 10), 1, True, (2, 5), noise=0.03),
}


@TASKS.register("compare_count")
class CompareCountTask(Task):
    """Two images; which has more circles? ``answer`` is "A" (first) or "B" (second).

    Args:
        image_size: side of each square image in pixels.
        min_shape / max_shape: shape sides in pixels (defaults scale with ``image_size``).

    >>> s = CompareCountTask().generate(seed=0, level=1)
    >>> len(s.images), s.answer in ("A", "B"), s.meta["options"]
    (2, True, ['the first image', 'the second image'])
    """

    name = "compare_count"
    description = "Two images: say which one has more circles (multiple choice)."
    reward_name = "choice"
    levels = tuple(LEVELS)

    def __init__(
        self, image_size: int = 112, min_shape: int | None = None, max_shape: int | None = None
    ) -> None:
        self.image_size = image_size
        self.min_shape = min_shape if min_shape is not None else round(image_size * 10 / 112)
        self.max_shape = max_shape if max_shape is not None else round(image_size * 18 / 112)
        if not 6 <= self.min_shape <= self.max_shape <= image_size // 5:
            raise ValueError(
                f"need 6 <= min_shape <= max_shape <= image_size // 5, got "
                f"{self.min_shape}, {self.max_shape}, image_size={image_size}"
            )

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        lo, hi = spec.circles
        if spec.exact_diff:
            fewer = rng.randint(lo, hi - 1)
            more = fewer + 1
        else:
            fewer = rng.randint(lo, hi - spec.min_diff)
            more = rng.randint(fewer + spec.min_diff, hi)
        first_more = rng.random() < 0.5
        counts = [more, fewer] if first_more else [fewer, more]
        scenes = [self._scene(rng, c, rng.randint(*spec.distractors), seed) for c in counts]
        images = [
            render_shapes(objs, self.image_size, spec.noise, [seed, level, k])
            for k, objs in enumerate(scenes)
        ]
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=(
                "Which image contains more circles?\n"
                f"A. {OPTIONS[0]}\nB. {OPTIONS[1]}\nAnswer with the option's letter."
            ),
            answer="A" if first_more else "B",
            images=images,
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "options": list(OPTIONS),
                "circles": counts,
                "scenes": scenes,
            },
        )

    def _scene(
        self, rng: random.Random, circles: int, distractors: int, seed: int
    ) -> list[dict[str, Any]]:
        kinds = ["circle"] * circles + [
            rng.choice(["square", "triangle"]) for _ in range(distractors)
        ]
        rng.shuffle(kinds)
        for _ in range(SCENE_RESTARTS):
            sizes = [rng.randint(self.min_shape, self.max_shape) for _ in kinds]
            boxes = place_boxes(rng, sizes, self.image_size)
            if boxes is not None:
                return [
                    shape_meta(k, rng.choice(list(COLOURS)), b)
                    for k, b in zip(kinds, boxes, strict=True)
                ]
        raise RuntimeError(
            f"could not place {len(kinds)} shapes in a {self.image_size} px image (seed {seed})"
        )
