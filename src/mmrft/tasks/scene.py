"""Shared pieces of the shape-scene tasks: a palette, non-overlapping layout and rendering.

Design note: the spatial, grounding and multi-image tasks all draw flat-coloured circles,
squares and triangles (``counting.SHAPES``) at integer pixel boxes on a white background, so a
test can find every shape again from its exact RGB. ``PALETTE`` extends the counting task's five
colours to eight so a scene can give every shape its own colour (and so its own name, "the brown
square"). Layout is rejection sampling from a caller's ``random.Random``; nothing here holds
state, so callers stay pure functions of their seed.
"""

from __future__ import annotations

import random
from typing import Any

from mmrft.tasks.counting import BACKGROUND, COLOURS, EDGE, GAP, SHAPES, render_shapes  # noqa: F401 (re-export)

RGB = tuple[int, int, int]
Box = tuple[int, int, int, int]  # [x0, y0, x1, y1), half-open

PALETTE: dict[str, RGB] = {
    **COLOURS,
    "brown": (140, 80, 30),
    "pink": (240, 50, 220),
    "black": (20, 20, 20),
}
TRIES_PER_BOX = 200


def apart(a: Box, b: Box, gap: int = GAP) -> bool:
    """True when the boxes keep at least ``gap`` px between them along some axis."""
    return a[2] + gap <= b[0] or b[2] + gap <= a[0] or a[3] + gap <= b[1] or b[3] + gap <= a[1]


def place_boxes(
    rng: random.Random, sizes: list[int], image_size: int, gap: int = GAP
) -> list[Box] | None:
    """Square boxes of the given sides, ``gap`` px apart and ``EDGE`` px inside the border.

    Returns None when some box finds no free spot in ``TRIES_PER_BOX`` tries; the caller
    redraws the scene.
    """
    boxes: list[Box] = []
    for size in sizes:
        hi = image_size - EDGE - size
        if hi < EDGE:
            return None
        for _ in range(TRIES_PER_BOX):
            x0, y0 = rng.randint(EDGE, hi), rng.randint(EDGE, hi)
            box = (x0, y0, x0 + size, y0 + size)
            if all(apart(box, other, gap) for other in boxes):
                boxes.append(box)
                break
        else:
            return None
    return boxes


def shape_meta(kind: str, colour: str, box: Box) -> dict[str, Any]:
    """The meta record of one shape, as the counting task writes it."""
    return {"kind": kind, "colour": colour, "rgb": list(PALETTE[colour]), "bbox": list(box)}


def lettered(options: list[str]) -> str:
    """``"A. first\\nB. second"`` for a multiple-choice prompt.

    >>> lettered(["left", "right"])
    'A. left\\nB. right'
    """
    return "\n".join(f"{chr(ord('A') + i)}. {text}" for i, text in enumerate(options))
