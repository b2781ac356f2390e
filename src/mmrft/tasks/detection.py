"""Detection: "Give the bounding boxes of all the red circles." scored by matched F1 ("detect").

Design note: a scene of flat shapes (``scene.render_shapes``) with 0..N *targets* of one colour
and kind, and distractors that differ from the target class in colour, kind or both. The
answer is every target's box, as a JSON list ``[[x1, y1, x2, y2], ...]`` sorted by ``(x1, y1)``,
or ``[]`` when there is none; the "detection" reward matches predicted to gold boxes one-to-one
(Hungarian, IoU >= 0.5) and pays their F1, so a missing box and an extra box both cost.

Box convention as in the grounding task: gold boxes are image pixels with pixel-edge
coordinates, so ``x2 - x1`` is the width (``meta["answer_box_format"] = "abs"``), and the
constructor's ``box_format`` (``"abs"`` default, ``"rel1000"``, ``"norm"``) is the convention the
model answers in, written to ``meta["box_format"]`` and stated in the prompt.

No-target samples (from level 2, probability ``P_NONE``) have answer ``[]``: an empty list
scores 1 and any box scores 0. They are kept rare because the shared reward also gives
accuracy 1 to a completion with *no* answer block on them (it parses no boxes either).

Distractors: "easy" ones differ from the target class in both colour and kind; "mixed" in at
least one; "hard" levels always include one of the target's kind in another colour and one of
its colour in another kind (when the scene has room), then mixed ones.

Levels:

    level  shapes  targets  distractors  colours                        shapes (px @112) bg
    1      2-4     1-2      easy         5 (counting palette)           12-22            plain
    2      3-6     0-3      mixed        5                              12-22            plain
    3      4-8     0-4      hard         5                              12-22            plain
    4      6-10    0-5      hard         8 (+ brown, pink, black)       10-20            plain
    5      8-12    0-6      hard         8                              8-16             speckle
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import COLOURS, SHAPES
from mmrft.tasks.grounding import box_convention
from mmrft.tasks.scene import PALETTE, place_boxes, render_shapes, shape_meta

P_NONE = 0.1  # chance of a no-target scene at levels whose target range starts at 0
SCENE_RESTARTS = 100
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles"}


@dataclass(frozen=True)
class LevelSpec:
    count: tuple[int, int]
    targets: tuple[int, int]
    distractors: str  # "easy", "mixed" or "hard" (see the module note)
    colours: tuple[str, ...]
    sides: tuple[int, int]  # shape sides in px at image_size 112 (scaled with the image)
    noise: float = 0.0


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((2, 4), (1, 2), "easy", tuple(COLOURS), (12, 22)),
    2: LevelSpec((3, 6), (0, 3), "mixed", tuple(COLOURS), (12, 22)),
    3: LevelSpec((4, 8), (0, 4), "hard", tuple(COLOURS), (12, 22)),
    4: LevelSpec((6, 10), (0, 5), "hard", tuple(PALETTE), (10, 20)),
    5: LevelSpec((8, 12), (0, 6), "hard", tuple(PALETTE), (8, 16), noise=0.03),
}


def _distractor(rng: random.Random, target: tuple[str, str], spec: LevelSpec) -> tuple[str, str]:
    """A ``(kind, colour)`` outside the target class under the level's rule ("easy"/"mixed")."""
    kinds, colours = list(SHAPES), list(spec.colours)
    if spec.distractors == "easy":
        return (
            rng.choice([k for k in kinds if k != target[0]]),
            rng.choice([c for c in colours if c != target[1]]),
        )
    pairs = [(k, c) for k in kinds for c in colours if (k, c) != target]
    return rng.choice(pairs)


def draw_classes(rng: random.Random, spec: LevelSpec) -> tuple[tuple[str, str], list[bool], list]:
    """The target ``(kind, colour)``, which slots are targets, and every slot's class."""
    target = (rng.choice(list(SHAPES)), rng.choice(spec.colours))
    n = rng.randint(*spec.count)
    lo, hi = spec.targets
    none = lo == 0 and rng.random() < P_NONE
    n_targets = 0 if none else rng.randint(max(lo, 1), min(hi, n))
    classes = [target] * n_targets
    if spec.distractors == "hard":
        kinds = [k for k in SHAPES if k != target[0]]
        colours = [c for c in spec.colours if c != target[1]]
        hard = [(target[0], rng.choice(colours)), (rng.choice(kinds), target[1])]
        classes += hard[: n - n_targets]
    while len(classes) < n:
        classes.append(_distractor(rng, target, spec))
    order = list(range(n))
    rng.shuffle(order)  # the layout is placed in slot order; mix targets among distractors
    classes = [classes[i] for i in order]
    return target, [c == target for c in classes], classes


@TASKS.register("detect")
class DetectionTask(Task):
    """Box every shape of a named colour and kind; ``answer`` is a JSON list of pixel boxes.

    Args:
        image_size: side of the square image in pixels (shape sides scale with it).
        box_format: the convention the model answers in ("abs", "resized", "norm" or
            "rel1000"), written to ``meta["box_format"]`` and the prompt; the training pipeline
            sets it from the model family. resized_size: for "resized", as in ``ground``.

    >>> s = DetectionTask().generate(seed=0, level=1)
    >>> len(json.loads(s.answer)) == len(s.meta["targets"]) >= 1, s.meta["answer_box_format"]
    (True, 'abs')
    """

    name = "detect"
    description = "Give the boxes of every shape of a named colour and kind (scored by F1)."
    reward_name = "detection"
    levels = tuple(LEVELS)

    def __init__(
        self, image_size: int = 112, box_format: str = "abs", resized_size: list[int] | None = None
    ) -> None:
        self.fmt, self.box_meta = box_convention(box_format, image_size, resized_size)
        if image_size < 64:
            raise ValueError(f"detect needs image_size >= 64, got {image_size}")
        self.image_size = image_size
        self.box_format = box_format

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        lo, hi = (max(4, round(s * self.image_size / 112)) for s in spec.sides)
        for _ in range(SCENE_RESTARTS):
            target, is_target, classes = draw_classes(rng, spec)
            boxes = place_boxes(rng, [rng.randint(lo, hi) for _ in classes], self.image_size)
            if boxes is not None:
                break
        else:
            raise RuntimeError(f"detect: could not place a scene in {SCENE_RESTARTS} tries")
        objects = [
            {**shape_meta(kind, colour, box), "target": hit}
            for (kind, colour), box, hit in zip(classes, boxes, is_target, strict=True)
        ]
        gold = sorted(list(o["bbox"]) for o in objects if o["target"])
        kind, colour = target
        prompt = (
            f"Give the bounding boxes of all the {colour} {PLURALS[kind]} as a JSON list of "
            f"[x1, y1, x2, y2] boxes, {self.fmt}. Answer [] if there are none."
        )
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=json.dumps(gold),
            images=[render_shapes(objects, self.image_size, spec.noise, [seed, level])],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": [self.image_size, self.image_size],
                **self.box_meta,
                "answer_box_format": "abs",
                "query": {"kind": kind, "colour": colour},
                "objects": objects,
                "targets": [i for i, o in enumerate(objects) if o["target"]],
            },
        )
