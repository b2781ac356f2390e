"""Grounding: "Give the bounding box of the small green triangle." scored by IoU.

Design note: a scene of flat shapes in the counting task's five colours (so colours repeat and
a name often needs both colour and kind). The target is described by the shortest phrase that
picks it out alone, trying in order ``"the {kind}"``, ``"the {colour} {kind}"`` and
``"the {small|large} {colour} {kind}"``; a size word is used only when the target is the
smallest (or largest) shape of its colour and kind by a factor of ``SIZE_RATIO`` in side length.
Levels 4-5 plant such a "twin" so the size word is needed.

Backgrounds: ``background="plain"`` (default) draws on white as in the table below;
``background="photo"`` pastes the same shapes onto a square crop of a real photograph shipped
with scikit-learn or matplotlib (``mmrft.data.photos``), chosen from the sample's seed. On a
photo every shape gets a 1 px white rim (the shape drawn in white at its box, then in its
colour 1 px inside), so it stands out from any texture while its box stays the drawn box;
the speckle of level 5 is left out (the photo is the clutter). ``meta["background"]`` records
``{"photo": name, "crop": [x0, y0, x1, y1]}`` in the photo's pixels, so the plain crop can be
rebuilt with ``mmrft.data.photos.photo_crop(name, crop, image_size)``.

The gold ``answer`` is the target's box ``[x1, y1, x2, y2]`` in pixels of the image
(``meta["answer_box_format"] = "abs"``; box edges are pixel edges, so ``x2 - x1`` is the width).
``meta["box_format"]`` is the convention the *model* answers in -- the constructor's
``box_format`` ("abs" by default; "rel1000" for Qwen2-VL-style models, "norm" for fractions) --
and the prompt states it. ``meta["image_size"] = [W, H]`` lets the "grounding" reward convert.

Levels:

    level  shapes  target                                   background
    1      1       the only shape                           plain
    2      2-3     shortest unique name                     plain
    3      3-5     shortest unique name                     plain
    4      4-6     has a same colour/kind twin (size word)  plain
    5      6-9     has a same colour/kind twin (size word)  3% grey speckle
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from mmrft.data.photos import photo_crop, random_crop
from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import COLOURS, SHAPES
from mmrft.tasks.scene import place_boxes, render_shapes, shape_meta

SIZE_RATIO = 1.5  # a "small"/"large" shape's side differs from its twin's by at least this
SCENE_RESTARTS = 100
PROMPT_FORMATS = {
    "abs": "in pixels of the {w}x{h} image",
    "resized": "in pixels of the image resized to {w}x{h}",
    "norm": "as fractions (0 to 1) of the image width and height",
    "rel1000": "scaled to 0-1000 of the image width and height",
}
BACKGROUNDS = ("plain", "photo")


def box_convention(
    box_format: str, image_size: int, resized_size: list[int] | None
) -> tuple[str, dict[str, Any]]:
    """The prompt phrase for answering in ``box_format``, and the meta entries the box rewards
    need to read such an answer ("resized": pixels of the processor-resized image, Qwen2.5-VL).

    >>> box_convention("resized", 100, [112, 84])
    ('in pixels of the image resized to 112x84', {'box_format': 'resized', 'resized_size': [112, 84]})
    """
    if box_format not in PROMPT_FORMATS:
        raise ValueError(f"box_format must be one of {list(PROMPT_FORMATS)}, got {box_format!r}")
    meta: dict[str, Any] = {"box_format": box_format}
    w = h = image_size
    if box_format == "resized":
        if not (isinstance(resized_size, list | tuple) and len(resized_size) == 2):
            raise ValueError('box_format "resized" needs resized_size=[width, height]')
        w, h = (int(v) for v in resized_size)
        meta["resized_size"] = [w, h]
    return PROMPT_FORMATS[box_format].format(w=w, h=h), meta


RIM = (255, 255, 255)  # the rim that separates a shape from a photo background


@dataclass(frozen=True)
class LevelSpec:
    count: tuple[int, int]
    twin: bool = False
    noise: float = 0.0


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((1, 1)),
    2: LevelSpec((2, 3)),
    3: LevelSpec((3, 5)),
    4: LevelSpec((4, 6), twin=True),
    5: LevelSpec((6, 9), twin=True, noise=0.03),
}


def describe(objects: list[dict[str, Any]], target: int) -> str | None:
    """The shortest unique name of ``objects[target]`` (see the module note), or None.

    >>> objs = [{"kind": "circle", "colour": "red", "bbox": [0, 0, 10, 10]},
    ...         {"kind": "circle", "colour": "red", "bbox": [20, 20, 40, 40]},
    ...         {"kind": "square", "colour": "red", "bbox": [50, 50, 60, 60]}]
    >>> describe(objs, 2), describe(objs, 0), describe(objs, 1)
    ('the square', 'the small red circle', 'the large red circle')
    """
    t = objects[target]
    same_kind = [o for o in objects if o["kind"] == t["kind"]]
    if len(same_kind) == 1:
        return f"the {t['kind']}"
    twins = [o for o in same_kind if o["colour"] == t["colour"] and o is not t]
    if not twins:
        return f"the {t['colour']} {t['kind']}"
    side = t["bbox"][2] - t["bbox"][0]
    others = [o["bbox"][2] - o["bbox"][0] for o in twins]
    if all(side * SIZE_RATIO <= s for s in others):
        return f"the small {t['colour']} {t['kind']}"
    if all(side >= s * SIZE_RATIO for s in others):
        return f"the large {t['colour']} {t['kind']}"
    return None


@TASKS.register("ground")
class GroundingTask(Task):
    """Box one described shape; ``answer`` is ``"[x1, y1, x2, y2]"`` in image pixels.

    Args:
        image_size: side of the square image in pixels.
        box_format: the convention the model answers in ("abs", "resized", "norm" or
            "rel1000"), written to ``meta["box_format"]`` and the prompt; the training pipeline
            sets it from the model family (``ModelFamily.task_box_kwargs``).
        resized_size: [width, height] of the image as the processor resizes it ("resized").
        min_shape / max_shape: shape sides in pixels (defaults scale with ``image_size``).
        background: "plain" (white) or "photo" (a crop of a real photograph; module note).

    >>> s = GroundingTask(box_format="rel1000").generate(seed=0, level=1)
    >>> s.meta["box_format"], s.meta["image_size"], s.answer.startswith("[")
    ('rel1000', [112, 112], True)
    """

    name = "ground"
    description = "Give the bounding box of the described shape (scored by IoU)."
    reward_name = "grounding"
    levels = tuple(LEVELS)

    def __init__(
        self,
        image_size: int = 112,
        box_format: str = "abs",
        min_shape: int | None = None,
        max_shape: int | None = None,
        background: str = "plain",
        resized_size: list[int] | None = None,
    ) -> None:
        if background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {list(BACKGROUNDS)}, got {background!r}")
        self.background = background
        self.fmt, self.box_meta = box_convention(box_format, image_size, resized_size)
        self.image_size = image_size
        self.box_format = box_format
        self.min_shape = min_shape if min_shape is not None else round(image_size * 10 / 112)
        self.max_shape = max_shape if max_shape is not None else round(image_size * 26 / 112)
        if not (self.min_shape >= 4 and self.min_shape * SIZE_RATIO <= self.max_shape):
            raise ValueError(
                f"need 4 <= min_shape and min_shape * {SIZE_RATIO} <= max_shape, got "
                f"{self.min_shape}, {self.max_shape}"
            )
        if self.max_shape > image_size // 3:
            raise ValueError(f"max_shape {self.max_shape} exceeds image_size // 3")

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        for _ in range(SCENE_RESTARTS):
            found = self._scene(rng, spec)
            if found is not None:
                objects, target, text = found
                break
        else:
            raise RuntimeError(f"no describable target after {SCENE_RESTARTS} scenes")
        box = objects[target]["bbox"]
        if self.background == "photo":
            photo, crop = random_crop(rng, self.image_size)
            image = paste_shapes(photo_crop(photo, crop, self.image_size), objects)
            background: str | dict[str, Any] = {"photo": photo, "crop": list(crop)}
        else:
            image = render_shapes(objects, self.image_size, spec.noise, [seed, level])
            background = "plain"
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=f"Give the bounding box of {text} as [x1, y1, x2, y2], {self.fmt}.",
            answer=f"[{box[0]}, {box[1]}, {box[2]}, {box[3]}]",
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": [self.image_size, self.image_size],
                **self.box_meta,
                "answer_box_format": "abs",
                "objects": objects,
                "target": target,
                "description": text,
                "background": background,
            },
        )

    def _scene(
        self, rng: random.Random, spec: LevelSpec
    ) -> tuple[list[dict[str, Any]], int, str] | None:
        n = rng.randint(*spec.count)
        kinds = [rng.choice(list(SHAPES)) for _ in range(n)]
        colours = [rng.choice(list(COLOURS)) for _ in range(n)]
        sizes = [rng.randint(self.min_shape, self.max_shape) for _ in range(n)]
        if spec.twin:  # shapes 0 and 1 share colour and kind, sides >= SIZE_RATIO apart
            kinds[1], colours[1] = kinds[0], colours[0]
            small = rng.randint(self.min_shape, math.floor(self.max_shape / SIZE_RATIO))
            large = rng.randint(math.ceil(small * SIZE_RATIO), self.max_shape)
            sizes[0], sizes[1] = (small, large) if rng.random() < 0.5 else (large, small)
        boxes = place_boxes(rng, sizes, self.image_size)
        if boxes is None:
            return None
        objects = [shape_meta(k, c, b) for k, c, b in zip(kinds, colours, boxes, strict=True)]
        target = 0 if spec.twin else rng.randrange(n)
        text = describe(objects, target)
        return None if text is None else (objects, target, text)


def paste_shapes(background: Image.Image, objects: list[dict[str, Any]]) -> Image.Image:
    """``objects`` drawn on ``background`` (modified in place) with a 1 px ``RIM``.

    Each shape is drawn in ``RIM`` at its box and again in its colour inside a box 1 px smaller,
    so the shape's pixels still fill exactly its box.
    """
    draw = ImageDraw.Draw(background)
    for obj in objects:
        x0, y0, x1, y1 = obj["bbox"]
        SHAPES[obj["kind"]](draw, (x0, y0, x1, y1), RIM)
        SHAPES[obj["kind"]](draw, (x0 + 1, y0 + 1, x1 - 1, y1 - 1), tuple(obj["rgb"]))
    return background
