"""Visual puzzles: read an analog clock ("clock") and count coloured grid cells ("grid_count").

Design note -- clock. A face of radius R with 12 hour ticks, a thick short hour hand and a thin
long minute hand, drawn with PIL at float coordinates. The hour hand points at
``30 * (h % 12) + m / 2`` degrees clockwise from 12, the minute hand at ``6 * m``, as on a real
clock, so the hour hand sits between numerals after the hour. ``answer`` is ``"h:mm"`` (h in
1-12, no leading zero); ``meta["answers"]`` also accepts ``"hh:mm"``. The reward is
"exact_match". The hand lengths (fractions of R) are in meta, and no numeral or tick reaches
the ring between the two hand lengths, so a verifier can find the minute hand there.

    level  minutes              face
    1      :00                  numerals
    2      :00 or :30           numerals
    3      multiples of 5       numerals, minute ticks
    4      any                  ticks only
    5      any                  ticks only, tinted face, closer hand lengths, pixel noise

Design note -- grid_count. An R x C grid with some cells filled in one of a few colours;
"How many red cells are there?" (levels 1-2 have one colour and ask for "coloured" cells).
``answer`` is the count (reward "count"); ``meta["cells"]`` maps every filled cell to its
colour and ``meta["geometry"]`` gives the grid's pixel origin and cell size.

    level  grid  colours  filled cells
    1      3x3   1        1-4
    2      4x4   1        1-8
    3      5x5   2        3-12
    4      6x6   3        4-18
    5      8x8   4        6-30
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import COLOURS

# ---------------------------------------------------------------------------- clock


@dataclass(frozen=True)
class ClockLevel:
    minute_step: int  # minutes are multiples of this
    numerals: bool
    minute_ticks: bool
    hour_len: float  # hand lengths as fractions of the face radius
    minute_len: float
    noise: float = 0.0


CLOCK_LEVELS: dict[int, ClockLevel] = {
    1: ClockLevel(60, True, False, 0.45, 0.8),
    2: ClockLevel(30, True, False, 0.45, 0.8),
    3: ClockLevel(5, True, True, 0.45, 0.8),
    4: ClockLevel(1, False, True, 0.45, 0.8),
    5: ClockLevel(1, False, True, 0.55, 0.8, noise=10.0),
}
NUMERAL_RADIUS = 0.74  # numerals are centred on this fraction of R; glyphs span about +-0.08 R
HUB = 0.06  # hub radius as a fraction of R


def hand_angles(hour: int, minute: int) -> tuple[float, float]:
    """``(hour, minute)`` hand angles in degrees clockwise from 12.

    >>> hand_angles(3, 30)
    (105.0, 180.0)
    """
    return 30.0 * (hour % 12) + minute / 2, 6.0 * minute


@functools.lru_cache(maxsize=8)
def _numeral_font(size: int) -> ImageFont.FreeTypeFont:
    from mmrft.tasks.ocr import load_font

    return load_font("DejaVuSans.ttf", size)


@TASKS.register("clock")
class ClockTask(Task):
    """Tell the time on an analog clock; ``answer`` is ``"h:mm"``.

    >>> s = ClockTask().generate(seed=2, level=1)
    >>> s.answer.endswith(":00"), s.images[0].size
    (True, (128, 128))
    """

    name = "clock"
    description = "Read the time (h:mm) off an analog clock face."
    reward_name = "exact_match"
    levels = tuple(CLOCK_LEVELS)

    def __init__(self, image_size: int = 128) -> None:
        if image_size < 64:
            raise ValueError(f"clock needs image_size >= 64, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = CLOCK_LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        hour = rng.randint(1, 12)
        minute = rng.randrange(0, 60, spec.minute_step)
        face = tuple(rng.randint(215, 255) for _ in range(3)) if spec.noise else (255, 255, 255)
        image = self._render(hour, minute, spec, face)
        if spec.noise:
            n = self.image_size
            gen = np.random.default_rng([seed, level])
            noisy = np.asarray(image, dtype=np.float32) + gen.normal(0, spec.noise, (n, n, 3))
            image = Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8))
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt="What time does the clock show? Answer as h:mm.",
            answer=f"{hour}:{minute:02d}",
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "hour": hour,
                "minute": minute,
                "answers": [f"{hour:02d}:{minute:02d}"],
                "radius": self._radius(),
                "hour_len": spec.hour_len,
                "minute_len": spec.minute_len,
            },
        )

    def _radius(self) -> float:
        return self.image_size / 2 - 3

    def _render(self, hour: int, minute: int, spec: ClockLevel, face: tuple) -> Image.Image:
        n = self.image_size
        c, r = (n - 1) / 2, self._radius()
        image = Image.new("RGB", (n, n), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        draw.ellipse([c - r, c - r, c + r, c + r], fill=face, outline=(0, 0, 0), width=2)

        def at(angle: float, frac: float) -> tuple[float, float]:
            rad = math.radians(angle)
            return c + frac * r * math.sin(rad), c - frac * r * math.cos(rad)

        for k in range(60):
            if k % 5 == 0:
                draw.line([at(6 * k, 0.86), at(6 * k, 0.97)], fill=(0, 0, 0), width=2)
            elif spec.minute_ticks:
                draw.line([at(6 * k, 0.92), at(6 * k, 0.97)], fill=(0, 0, 0), width=1)
        if spec.numerals:
            font = _numeral_font(max(8, round(r * 0.17)))
            for h in range(1, 13):
                draw.text(
                    at(30 * h, NUMERAL_RADIUS), str(h), font=font, fill=(0, 0, 0), anchor="mm"
                )
        hour_angle, minute_angle = hand_angles(hour, minute)
        width_h, width_m = max(3, round(r * 0.07)), max(2, round(r * 0.03))
        draw.line([at(hour_angle, 0), at(hour_angle, spec.hour_len)], fill=(0, 0, 0), width=width_h)
        draw.line(
            [at(minute_angle, 0), at(minute_angle, spec.minute_len)], fill=(0, 0, 0), width=width_m
        )
        h = HUB * r
        draw.ellipse([c - h, c - h, c + h, c + h], fill=(0, 0, 0))
        return image


# ---------------------------------------------------------------------------- grid_count


@dataclass(frozen=True)
class GridLevel:
    side: int
    colours: int
    filled: tuple[int, int]


GRID_LEVELS: dict[int, GridLevel] = {
    1: GridLevel(3, 1, (1, 4)),
    2: GridLevel(4, 1, (1, 8)),
    3: GridLevel(5, 2, (3, 12)),
    4: GridLevel(6, 3, (4, 18)),
    5: GridLevel(8, 4, (6, 30)),
}
GRID_LINE = (60, 60, 60)


@TASKS.register("grid_count")
class GridCountTask(Task):
    """Count the filled cells (of one colour) in a grid; ``answer`` is the count.

    >>> s = GridCountTask().generate(seed=0, level=1)
    >>> s.answer == str(len(s.meta["cells"])), s.images[0].size
    (True, (112, 112))
    """

    name = "grid_count"
    description = "Count the coloured cells (of a named colour) in a grid."
    reward_name = "count"
    levels = tuple(GRID_LEVELS)

    def __init__(self, image_size: int = 112) -> None:
        if image_size < 8 * 8 + 4:
            raise ValueError(f"grid_count needs image_size >= 68, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = GRID_LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        colours = rng.sample(list(COLOURS), spec.colours)
        n_filled = rng.randint(*spec.filled)
        cells = rng.sample([(r, c) for r in range(spec.side) for c in range(spec.side)], n_filled)
        filled = {cell: rng.choice(colours) for cell in sorted(cells)}
        asked = rng.choice(sorted(set(filled.values())))
        cell_px = (self.image_size - 4) // spec.side
        origin = (self.image_size - cell_px * spec.side) // 2
        image = Image.new("RGB", (self.image_size, self.image_size), (255, 255, 255))
        draw = ImageDraw.Draw(image)
        for (r, c), colour in filled.items():
            x, y = origin + c * cell_px, origin + r * cell_px
            draw.rectangle([x, y, x + cell_px - 1, y + cell_px - 1], fill=COLOURS[colour])
        for k in range(spec.side + 1):  # grid lines over the fills
            p = origin + k * cell_px
            end = origin + spec.side * cell_px
            draw.line([(p, origin), (p, end)], fill=GRID_LINE, width=1)
            draw.line([(origin, p), (end, p)], fill=GRID_LINE, width=1)
        if spec.colours == 1:
            prompt, answer = "How many cells of the grid are coloured in?", len(filled)
        else:
            answer = sum(colour == asked for colour in filled.values())
            prompt = f"How many {asked} cells are there in the grid?"
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=str(answer),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "asked": asked if spec.colours > 1 else None,
                "cells": [[r, c, colour] for (r, c), colour in filled.items()],
                "geometry": {
                    "rows": spec.side,
                    "cols": spec.side,
                    "origin": origin,
                    "cell": cell_px,
                },
            },
        )
