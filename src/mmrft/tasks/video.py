"""Video: short frame sequences of moving shapes — direction, distance, direction changes.

Design note: a sample's ``images`` are the frames of one clip in time order and
``meta["video"]`` is True, so a family that takes video (Qwen-VL) can encode them as one video
and any other family still sees them as an ordered multi-image prompt. Every shape moves by a
whole number of pixels per frame along its own track; ``meta["objects"]`` holds each shape's box
in every frame (``boxes[f]``), so the answer is recomputable from the scene or from the pixels.
Boxes of different shapes never touch in any frame (no occlusion). All questions are multiple
choice over ``meta["options"]``, verified by the ``choice`` reward.

Levels:

    level  frames  shapes  question                                   directions
    1      4       1       which way does the shape move?              4
    2      4       2       which way does the <colour> <shape> move?   4
    3      6       3       which way does the <colour> <shape> move?   8
    4      6       3       which shape moves the farthest? (lead >= 2 px/frame)  8
    5      6       1       how many times does it change direction?    left/right, 0-3 changes
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import COLOURS
from mmrft.tasks.scene import EDGE, GAP, apart, lettered, render_shapes, shape_meta

DIRECTIONS: dict[str, tuple[int, int]] = {
    "left": (-1, 0),
    "right": (1, 0),
    "up": (0, -1),
    "down": (0, 1),
    "up-left": (-1, -1),
    "up-right": (1, -1),
    "down-left": (-1, 1),
    "down-right": (1, 1),
}
KINDS = ("circle", "square", "triangle")
RESTARTS = 200
MIN_LEAD = 2.0  # px per frame by which the farthest mover must lead the next one


def _per_frame(obj: dict[str, Any]) -> float:
    """Euclidean distance a straight-moving shape covers per frame."""
    dx, dy = obj["steps"][0]
    return math.hypot(dx, dy)


@dataclass(frozen=True)
class LevelSpec:
    frames: int
    shapes: int
    question: str  # "direction" | "farthest" | "changes"
    directions: tuple[str, ...]


FOUR, EIGHT = tuple(DIRECTIONS)[:4], tuple(DIRECTIONS)
LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec(4, 1, "direction", FOUR),
    2: LevelSpec(4, 2, "direction", FOUR),
    3: LevelSpec(6, 3, "direction", EIGHT),
    4: LevelSpec(6, 3, "farthest", EIGHT),
    5: LevelSpec(6, 1, "changes", ("left", "right")),
}


@TASKS.register("motion")
class MotionTask(Task):
    """Frames of moving shapes; answer a multiple-choice question about the motion.

    >>> s = MotionTask().generate(seed=0, level=1)
    >>> len(s.images), s.meta["video"], s.answer in "ABCD"
    (4, True, True)
    """

    name = "motion"
    description = "Video frames of moving shapes: direction, farthest mover, direction changes."
    reward_name = "choice"
    levels = tuple(LEVELS)

    def __init__(self, image_size: int = 112, shape_size: int | None = None) -> None:
        self.image_size = image_size
        self.size = shape_size if shape_size is not None else round(image_size * 14 / 112)
        if not 6 <= self.size <= image_size // 6:
            raise ValueError(f"need 6 <= shape_size <= image_size // 6, got {self.size}")

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        for _ in range(RESTARTS):
            objects = self._scene(rng, spec)
            if objects is not None:
                break
        else:
            raise RuntimeError(f"could not lay out motion level {level} (seed {seed})")
        prompt, options, answer = getattr(self, f"_ask_{spec.question}")(rng, objects, spec)
        frames = [
            render_shapes(
                [shape_meta(o["kind"], o["colour"], tuple(o["boxes"][f])) for o in objects],
                self.image_size,
            )
            for f in range(spec.frames)
        ]
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=(
                f"The {spec.frames} images are consecutive frames of a video.\n{prompt}\n"
                f"{lettered(options)}\nAnswer with the option's letter."
            ),
            answer=chr(ord("A") + options.index(answer)),
            images=frames,
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "video": True,
                "image_size": self.image_size,
                "options": options,
                "question": spec.question,
                "objects": objects,
            },
        )

    # --- scenes ---------------------------------------------------------------------------
    def _scene(self, rng: random.Random, spec: LevelSpec) -> list[dict[str, Any]] | None:
        colours = rng.sample(list(COLOURS), spec.shapes)
        kinds = [rng.choice(KINDS) for _ in range(spec.shapes)]
        speeds = rng.sample(range(4, 11), spec.shapes)  # distinct: "farthest" has one answer
        objects = []
        for colour, kind, speed in zip(colours, kinds, speeds, strict=True):
            if spec.question == "changes":
                steps = self._zigzag(rng, spec.frames - 1, speed)
                direction = None
            else:
                direction = rng.choice(spec.directions)
                dx, dy = DIRECTIONS[direction]
                steps = [(dx * speed, dy * speed)] * (spec.frames - 1)
            boxes = self._track(rng, steps)
            if boxes is None:
                return None
            objects.append(
                {
                    "kind": kind,
                    "colour": colour,
                    "speed": speed,
                    "direction": direction,
                    "steps": [list(s) for s in steps],
                    "boxes": boxes,
                }
            )
        if spec.question == "farthest":  # one clear winner by path length (diagonals: x sqrt 2)
            per_frame = sorted((_per_frame(o) for o in objects), reverse=True)
            if per_frame[0] - per_frame[1] < MIN_LEAD:
                return None
        for f in range(spec.frames):  # no two shapes touch in any frame
            for i in range(len(objects)):
                for j in range(i):
                    if not apart(tuple(objects[i]["boxes"][f]), tuple(objects[j]["boxes"][f]), GAP):
                        return None
        return objects

    def _zigzag(self, rng: random.Random, n_steps: int, speed: int) -> list[tuple[int, int]]:
        """Horizontal steps with exactly 0-3 reversals of direction."""
        changes = rng.randint(0, 3)
        at = set(rng.sample(range(1, n_steps), changes))
        sign = rng.choice((-1, 1))
        steps = []
        for t in range(n_steps):
            if t in at:
                sign = -sign
            steps.append((sign * speed, 0))
        return steps

    def _track(self, rng: random.Random, steps: list[tuple[int, int]]) -> list[list[int]] | None:
        """Boxes along ``steps`` from a start that keeps every frame inside the image."""
        xs, ys = [0], [0]
        for dx, dy in steps:
            xs.append(xs[-1] + dx)
            ys.append(ys[-1] + dy)
        lo, hi = EDGE, self.image_size - EDGE - self.size
        x_lo, x_hi = lo - min(xs), hi - max(xs)
        y_lo, y_hi = lo - min(ys), hi - max(ys)
        if x_lo > x_hi or y_lo > y_hi:
            return None
        x0, y0 = rng.randint(x_lo, x_hi), rng.randint(y_lo, y_hi)
        return [
            [x0 + x, y0 + y, x0 + x + self.size, y0 + y + self.size]
            for x, y in zip(xs, ys, strict=True)
        ]

    # --- questions ------------------------------------------------------------------------
    def _ask_direction(self, rng, objects, spec):
        target = rng.choice(objects)
        name = "the shape" if len(objects) == 1 else f"the {target['colour']} {target['kind']}"
        options = self._options(rng, target["direction"], list(spec.directions))
        return f"In which direction does {name} move?", options, target["direction"]

    def _ask_farthest(self, rng, objects, spec):
        names = [f"the {o['colour']} {o['kind']}" for o in objects]
        best = names[max(range(len(objects)), key=lambda i: _per_frame(objects[i]))]
        return "Which shape moves the farthest over the video?", sorted(names), best

    def _ask_changes(self, rng, objects, spec):
        steps = objects[0]["steps"]
        changes = sum(a[0] * b[0] < 0 for a, b in zip(steps, steps[1:], strict=False))
        return (
            "How many times does the shape reverse its direction of motion?",
            ["0", "1", "2", "3"],
            str(changes),
        )

    @staticmethod
    def _options(rng: random.Random, answer: str, pool: list[str]) -> list[str]:
        """Four options including ``answer``, in a fixed order (the pool's)."""
        others = rng.sample([d for d in pool if d != answer], min(3, len(pool) - 1))
        return [d for d in pool if d in others or d == answer]
