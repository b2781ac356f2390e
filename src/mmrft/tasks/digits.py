"""Real handwriting: read, add and compare handwritten digits from scikit-learn's ``load_digits``.

Design note: ``sklearn.datasets.load_digits()`` ships 1,797 real 8x8 handwritten digits (UCI
optdigits, 16 grey levels) inside the package, so this task works offline. Each digit is drawn
dark-on-white, scaled up by an integer factor with nearest-neighbour (``scale`` px per source
pixel, so a test can read the 8x8 grid back exactly), and laid out in one or two rows on a
fixed square canvas. ``split`` keeps train and held-out handwriting apart: "train" draws from
the first ``TRAIN_ROWS`` rows, "test" from the rest, "all" from both.

``answer`` is an integer; the reward is "numeric" (exact). ``meta["digits"]`` lists each
digit's dataset row, label and top-left pixel, and ``meta["op"]`` the question.

Levels:

    level  digits           question
    1      1                what digit is shown
    2      2 in a row       what two-digit number is written
    3      2-3 in a row     sum of the digits
    4      3-4 in a row     largest or smallest digit
    5      4-6 in 2 rows    sum, largest, or the top row read as a number
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task

TRAIN_ROWS = 1500  # of 1,797
GAP = 4  # px between digits
SPLITS = ("all", "train", "test")


@dataclass(frozen=True)
class LevelSpec:
    count: tuple[int, int]
    ops: tuple[str, ...]
    rows: int = 1


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((1, 1), ("read",)),
    2: LevelSpec((2, 2), ("number",)),
    3: LevelSpec((2, 3), ("sum",)),
    4: LevelSpec((3, 4), ("max", "min")),
    5: LevelSpec((4, 6), ("sum", "max", "top_number"), rows=2),
}
QUESTIONS = {
    "read": "What digit is written in the image?",
    "number": "What number is written in the image?",
    "sum": "What is the sum of the handwritten digits?",
    "max": "What is the largest handwritten digit in the image?",
    "min": "What is the smallest handwritten digit in the image?",
    "top_number": "Read the digits in the top row, left to right, as one number. What is it?",
}


@functools.lru_cache(maxsize=1)
def load_digit_data() -> tuple[np.ndarray, np.ndarray]:
    """``(images [1797, 8, 8] in 0..16, labels [1797])`` from scikit-learn."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images.astype(np.uint8), data.target.astype(np.int64)


def digit_pixels(grid: np.ndarray, scale: int) -> np.ndarray:
    """An 8x8 grid of ink levels 0..16 as a ``[8*scale, 8*scale]`` uint8 image, dark on white."""
    grey = 255 - (grid.astype(np.int32) * 255 + 8) // 16  # 0 -> 255 (white), 16 -> 0
    return np.kron(grey, np.ones((scale, scale), dtype=np.int32)).astype(np.uint8)


def answer_for(op: str, labels: list[int], per_row: int) -> int:
    """The answer to ``op`` for digits ``labels`` laid out ``per_row`` to a row."""
    if op == "read":
        return labels[0]
    if op == "number":
        return int("".join(map(str, labels)))
    if op == "sum":
        return sum(labels)
    if op == "max":
        return max(labels)
    if op == "min":
        return min(labels)
    if op == "top_number":
        return int("".join(map(str, labels[:per_row])))
    raise ValueError(f"unknown digits op {op!r}")


@TASKS.register("digits")
class DigitsTask(Task):
    """Read or do arithmetic on real handwritten digits; ``answer`` is an integer.

    Args:
        image_size: side of the square canvas in pixels.
        scale: pixels per source pixel (a digit is ``8 * scale`` px).
        split: "all", "train" (first 1,500 dataset rows) or "test" (the other 297).

    >>> s = DigitsTask().generate(seed=0, level=1)
    >>> s.answer == str(s.meta["digits"][0]["label"]), s.images[0].size
    (True, (112, 112))
    """

    name = "digits"
    description = "Read, add or compare real handwritten digits (scikit-learn load_digits)."
    reward_name = "numeric"
    levels = tuple(LEVELS)

    def __init__(self, image_size: int = 112, scale: int = 3, split: str = "all") -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
        if 4 * 8 * scale + 3 * GAP > image_size:  # the widest row (level 4) holds 4 digits
            raise ValueError(f"image_size {image_size} too small for 4 digits at scale {scale}")
        self.image_size = image_size
        self.scale = scale
        self.split = split

    def _rows(self) -> range:
        n = len(load_digit_data()[1])
        return {"all": range(n), "train": range(TRAIN_ROWS), "test": range(TRAIN_ROWS, n)}[
            self.split
        ]

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/{self.split}/L{level}/{seed}")
        images, labels = load_digit_data()
        rows = self._rows()
        count = rng.randint(*spec.count)
        op = rng.choice(spec.ops)
        while True:
            picked = [rows[rng.randrange(len(rows))] for _ in range(count)]
            if op not in ("number", "top_number") or labels[picked[0]] != 0:
                break  # a number never starts with 0
        per_row = -(-count // spec.rows)
        side, n = 8 * self.scale, self.image_size
        canvas = np.full((n, n), 255, dtype=np.uint8)
        digits: list[dict[str, Any]] = []
        n_rows = -(-count // per_row)
        top = (n - (n_rows * side + (n_rows - 1) * GAP)) // 2
        for k, row in enumerate(picked):
            r, c = divmod(k, per_row)
            in_row = min(per_row, count - r * per_row)
            left = (n - (in_row * side + (in_row - 1) * GAP)) // 2
            x, y = left + c * (side + GAP), top + r * (side + GAP)
            canvas[y : y + side, x : x + side] = digit_pixels(images[row], self.scale)
            digits.append({"row": int(row), "label": int(labels[row]), "xy": [x, y]})
        answer = answer_for(op, [d["label"] for d in digits], per_row)
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=QUESTIONS[op] + " Answer with a number.",
            answer=str(answer),
            images=[Image.fromarray(canvas).convert("RGB")],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": n,
                "scale": self.scale,
                "split": self.split,
                "op": op,
                "per_row": per_row,
                "digits": digits,
                "source": "sklearn.datasets.load_digits",
            },
        )
