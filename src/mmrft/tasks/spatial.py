"""Spatial relations: "Where is the red circle relative to the blue square?" as multiple choice.

Design note: a scene holds 2-8 shapes, each in its own colour, so every shape has a unique name
("the red circle"). One of three question kinds is asked, each under a rule with a margin so
the answer is never a judgement call (``MARGIN`` px, box coordinates half-open):

* ``relation``: A is "left of" B iff ``A.x1 + MARGIN <= B.x0`` and their vertical extents
  overlap by at least half the smaller side (likewise "right of", "above", "below"). Diagonal
  pairs match no relation and are never asked about.
* ``extreme``: the shape whose box centre is furthest left / right / up / down, asked only when
  it beats the runner-up by ``MARGIN`` px.
* ``nearest``: the shape whose box centre is nearest to a reference shape's, asked only when
  the runner-up is at least ``NEAREST_RATIO`` times farther.
* ``between``: the one shape B with A "left of" B and B "left of" C (or A "above" B "above"
  C) under the ``relation`` rule, asked only when exactly one shape qualifies.

The options (``meta["options"]``, the "choice" reward's key) are shuffled; object questions
offer the answer and up to three other shapes of the scene. ``answer`` is the gold letter.

Levels:

    level  shapes  questions                      background
    1      2-3     relation                       plain
    2      3-4     relation, extreme              plain
    3      4-5     relation, extreme, nearest     plain
    4      5-6     relation, extreme, nearest,    plain
                   between
    5      6-8     as level 4                     3% grey speckle
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import SHAPES
from mmrft.tasks.scene import PALETTE, lettered, place_boxes, render_shapes, shape_meta

MARGIN = 4  # px a relation / extreme must clear
NEAREST_RATIO = 1.25
SCENE_RESTARTS = 100
RELATIONS = ("left of", "right of", "above", "below")
DIRECTIONS = {  # direction -> (axis of the box centre, sign: +1 takes the max)
    "furthest to the left": (0, -1),
    "furthest to the right": (0, 1),
    "closest to the top": (1, -1),
    "closest to the bottom": (1, 1),
}


@dataclass(frozen=True)
class LevelSpec:
    count: tuple[int, int]
    kinds: tuple[str, ...]
    noise: float = 0.0


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((2, 3), ("relation",)),
    2: LevelSpec((3, 4), ("relation", "extreme")),
    3: LevelSpec((4, 5), ("relation", "extreme", "nearest")),
    4: LevelSpec((5, 6), ("relation", "extreme", "nearest", "between")),
    5: LevelSpec((6, 8), ("relation", "extreme", "nearest", "between"), noise=0.03),
}


def relation(a: list[int], b: list[int]) -> str | None:
    """Where box ``a`` is relative to box ``b`` under the module's rule, or None if unclear.

    >>> relation([0, 10, 10, 20], [20, 12, 30, 22]), relation([0, 0, 10, 10], [20, 20, 30, 30])
    ('left of', None)
    """
    need = min(a[2] - a[0], a[3] - a[1], b[2] - b[0], b[3] - b[1]) / 2
    overlap_x = min(a[2], b[2]) - max(a[0], b[0])
    overlap_y = min(a[3], b[3]) - max(a[1], b[1])
    if overlap_y >= need:
        if a[2] + MARGIN <= b[0]:
            return "left of"
        if b[2] + MARGIN <= a[0]:
            return "right of"
    if overlap_x >= need:
        if a[3] + MARGIN <= b[1]:
            return "above"
        if b[3] + MARGIN <= a[1]:
            return "below"
    return None


def _centre(box: list[int]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def extreme(boxes: list[list[int]], direction: str) -> int | None:
    """Index of the box furthest in ``direction`` by at least MARGIN px, or None."""
    axis, sign = DIRECTIONS[direction]
    keys = sorted(((sign * _centre(b)[axis], i) for i, b in enumerate(boxes)), reverse=True)
    if len(keys) < 2 or keys[0][0] - keys[1][0] < MARGIN:
        return None
    return keys[0][1]


def nearest(boxes: list[list[int]], ref: int) -> int | None:
    """Index of the box nearest to ``boxes[ref]`` (centre distance) by a clear margin, or None."""
    cx, cy = _centre(boxes[ref])
    dists = sorted(
        (math.hypot(_centre(b)[0] - cx, _centre(b)[1] - cy), i)
        for i, b in enumerate(boxes)
        if i != ref
    )
    if len(dists) < 2 or dists[1][0] < NEAREST_RATIO * dists[0][0]:
        return None
    return dists[0][1]


def between(boxes: list[list[int]], i: int, j: int) -> int | None:
    """The one box k with i, k, j in a row ("left of" or "above" twice), or None.

    >>> between([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], 0, 2)
    1
    """
    found = [
        k
        for k in range(len(boxes))
        if k not in (i, j)
        and any(
            relation(boxes[i], boxes[k]) == rel == relation(boxes[k], boxes[j])
            for rel in ("left of", "above")
        )
    ]
    return found[0] if len(found) == 1 else None


@TASKS.register("spatial")
class SpatialTask(Task):
    """Multiple-choice spatial relations between uniquely coloured shapes; ``answer`` is a letter.

    Args:
        image_size: side of the square image in pixels.
        min_shape / max_shape: shape sides in pixels (defaults scale with ``image_size``).

    >>> s = SpatialTask().generate(seed=3, level=1)
    >>> s.answer in "ABCD", len(s.meta["options"]), s.images[0].size
    (True, 4, (112, 112))
    """

    name = "spatial"
    description = (
        "Answer left/right/above/below/nearest/between questions about shapes (multiple choice)."
    )
    reward_name = "choice"
    levels = tuple(LEVELS)

    def __init__(
        self, image_size: int = 112, min_shape: int | None = None, max_shape: int | None = None
    ) -> None:
        self.image_size = image_size
        self.min_shape = min_shape if min_shape is not None else round(image_size * 12 / 112)
        self.max_shape = max_shape if max_shape is not None else round(image_size * 20 / 112)
        if not 4 <= self.min_shape <= self.max_shape <= image_size // 4:
            raise ValueError(
                f"need 4 <= min_shape <= max_shape <= image_size // 4, got "
                f"{self.min_shape}, {self.max_shape}, image_size={image_size}"
            )

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        for _ in range(SCENE_RESTARTS):
            objects = self._scene(rng, spec)
            if objects is None:
                continue
            question = self._question(rng, rng.choice(spec.kinds), objects)
            if question is not None:
                break
        else:
            raise RuntimeError(f"no clear spatial question after {SCENE_RESTARTS} scenes")
        text, options, answer_text, detail = question
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=f"{text}\n{lettered(options)}\nAnswer with the option's letter.",
            answer=chr(ord("A") + options.index(answer_text)),
            images=[render_shapes(objects, self.image_size, spec.noise, [seed, level])],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "objects": objects,
                "question": detail,
                "options": options,
                "answer_text": answer_text,
            },
        )

    def _scene(self, rng: random.Random, spec: LevelSpec) -> list[dict[str, Any]] | None:
        n = rng.randint(*spec.count)
        colours = rng.sample(list(PALETTE), n)
        kinds = [rng.choice(list(SHAPES)) for _ in range(n)]
        sizes = [rng.randint(self.min_shape, self.max_shape) for _ in range(n)]
        boxes = place_boxes(rng, sizes, self.image_size)
        if boxes is None:
            return None
        objects = [shape_meta(k, c, b) for k, c, b in zip(kinds, colours, boxes, strict=True)]
        for obj in objects:
            obj["name"] = f"the {obj['colour']} {obj['kind']}"
        return objects

    def _question(
        self, rng: random.Random, kind: str, objects: list[dict[str, Any]]
    ) -> tuple[str, list[str], str, dict[str, Any]] | None:
        """``(question, options, answer option, detail for meta)``, or None if none is clear."""
        boxes = [o["bbox"] for o in objects]
        names = [o["name"] for o in objects]
        if kind == "relation":
            pairs = [
                (i, j, relation(boxes[i], boxes[j]))
                for i in range(len(boxes))
                for j in range(len(boxes))
                if i != j and relation(boxes[i], boxes[j])
            ]
            if not pairs:
                return None
            i, j, rel = rng.choice(pairs)
            options = rng.sample(RELATIONS, len(RELATIONS))
            text = f"Where is {names[i]} relative to {names[j]}?"
            return text, options, rel, {"kind": kind, "subject": i, "reference": j}
        if kind == "extreme":
            found = [(d, extreme(boxes, d)) for d in DIRECTIONS]
            found = [(d, k) for d, k in found if k is not None]
            if not found:
                return None
            direction, k = rng.choice(found)
            text = f"Which shape is {direction}?"
            options = self._object_options(rng, names, k, exclude=())
            return text, options, names[k], {"kind": kind, "direction": direction}
        if kind == "between":
            triples = [
                (i, j, between(boxes, i, j))
                for i in range(len(boxes))
                for j in range(len(boxes))
                if i != j
            ]
            triples = [(i, j, k) for i, j, k in triples if k is not None]
            if not triples:
                return None
            i, j, k = rng.choice(triples)
            text = f"Which shape is between {names[i]} and {names[j]}?"
            options = self._object_options(rng, names, k, exclude=(i, j))
            return text, options, names[k], {"kind": kind, "ends": [i, j]}
        found = [(ref, nearest(boxes, ref)) for ref in range(len(boxes))]
        found = [(ref, k) for ref, k in found if k is not None]
        if not found:
            return None
        ref, k = rng.choice(found)
        text = f"Which shape is nearest to {names[ref]}?"
        options = self._object_options(rng, names, k, exclude=(ref,))
        return text, options, names[k], {"kind": kind, "reference": ref}

    @staticmethod
    def _object_options(
        rng: random.Random, names: list[str], answer: int, exclude: tuple[int, ...]
    ) -> list[str]:
        """The answer and up to three other shapes (never those in ``exclude``), shuffled."""
        others = [n for i, n in enumerate(names) if i != answer and i not in exclude]
        options = [names[answer], *rng.sample(others, min(3, len(others)))]
        rng.shuffle(options)
        return options
