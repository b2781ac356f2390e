"""Hashi (bridges) drawn as an image: connect numbered islands with straight bridges.

Design note (shared conventions in ``logic_puzzles.py``). A W x W board; columns are letters
``a..`` left to right, rows numbers ``1..`` top to bottom, both printed along the edges, so an
island's coordinate reads ``"c3"`` as in the benchmark. The puzzle is grown from its solution:
start with one island, then repeatedly pick an island and a direction and place a new island
two or more cells away along a free line, joined by 1 or 2 bridges; no island lands on a bridge
and no bridge crosses a bridge or an island, and every island stays one connected group. A few
extra bridges then join islands that see each other (loops), so the network is not a tree. An
island's number is its total of bridges. Several solutions may exist; the reward checks the
rules (``check_hashi(..., strict=True)``: counts met, at most two bridges per pair, straight,
no crossing, no bridge over an island, all islands connected), not the stored solution.

``answer`` is a JSON list ``[{"start": "a1", "end": "c1", "number": 2}, ...]`` (one entry per
joined pair); special_info ``{"init_islands": [{"cord": "a1", "requirement": 3}, ...]}``.

    level  board  islands  extra bridges  double bridges
    1      5x5    3-4      0              30%
    2      6x6    5-6      0-1            35%
    3      7x7    7-9      1              40%
    4      8x8    10-12    1-2            40%
    5      9x9    13-16    2-3            45%
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.logic_puzzles import CLUE_INK, INK, PAPER, bold_font

Cell = tuple[int, int]  # (row, col), 0-based
STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))
GUIDE = (225, 225, 225)


@dataclass(frozen=True)
class HashiLevel:
    side: int
    islands: tuple[int, int]
    extra: tuple[int, int]
    double: float


HASHI_LEVELS: dict[int, HashiLevel] = {
    1: HashiLevel(5, (3, 4), (0, 0), 0.30),
    2: HashiLevel(6, (5, 6), (0, 1), 0.35),
    3: HashiLevel(7, (7, 9), (1, 1), 0.40),
    4: HashiLevel(8, (10, 12), (1, 2), 0.40),
    5: HashiLevel(9, (13, 16), (2, 3), 0.45),
}


def cord(cell: Cell) -> str:
    """``(row, col)`` (0-based) as the benchmark's coordinate: column letter, 1-based row.

    >>> cord((0, 0)), cord((2, 1))
    ('a1', 'b3')
    """
    return f"{chr(ord('a') + cell[1])}{cell[0] + 1}"


def _between(a: Cell, b: Cell) -> list[Cell]:
    """Cells strictly between two cells of one row or column."""
    (r0, c0), (r1, c1) = a, b
    if r0 == r1:
        return [(r0, c) for c in range(min(c0, c1) + 1, max(c0, c1))]
    return [(r, c0) for r in range(min(r0, r1) + 1, max(r0, r1))]


def grow_hashi(rng: random.Random, spec: HashiLevel) -> dict[tuple[Cell, Cell], int]:
    """A connected bridge network: ``{(island, island): 1 or 2}``, pairs in sorted order."""
    side = spec.side
    target = rng.randint(*spec.islands)
    first = (rng.randrange(side), rng.randrange(side))
    islands, bridges = [first], {}
    covered: set[Cell] = set()  # cells under a bridge
    for _ in range(200 * target):
        if len(islands) == target:
            break
        start = rng.choice(islands)
        dr, dc = rng.choice(STEPS)
        options = []
        for d in range(1, side):
            cell = (start[0] + d * dr, start[1] + d * dc)
            if not (0 <= cell[0] < side and 0 <= cell[1] < side):
                break
            if cell in covered or cell in islands:
                break
            if d >= 2 and not any((cell[0] + a, cell[1] + b) in islands for a, b in STEPS):
                options.append(cell)
        if not options:
            continue
        new = rng.choice(options)
        covered.update(_between(start, new))
        islands.append(new)
        bridges[tuple(sorted((start, new)))] = 2 if rng.random() < spec.double else 1
    for _ in range(rng.randint(*spec.extra)):  # loops: join two islands that see each other
        pairs = [
            (a, b)
            for a in islands
            for b in islands
            if a < b
            and (a[0] == b[0] or a[1] == b[1])
            and (a, b) not in bridges
            and not any(c in covered or c in islands for c in _between(a, b))
            and len(_between(a, b)) >= 1
        ]
        if not pairs:
            break
        a, b = rng.choice(sorted(pairs))
        covered.update(_between(a, b))
        bridges[(a, b)] = 2 if rng.random() < spec.double else 1
    return bridges


@TASKS.register("hashi")
class HashiTask(Task):
    """Connect the islands of a hashi puzzle; ``answer`` is a JSON list of bridges.

    >>> s = HashiTask().generate(seed=0, level=1)
    >>> sorted(json.loads(s.answer)[0])
    ['end', 'number', 'start']
    """

    name = "hashi"
    description = "Solve a hashi (bridges) puzzle; answer the bridges as a JSON list."
    reward_name = "puzzle_hashi"
    levels = tuple(HASHI_LEVELS)

    def __init__(self, image_size: int = 320) -> None:
        if image_size < 128:
            raise ValueError(f"hashi needs image_size >= 128, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = HASHI_LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        bridges = grow_hashi(rng, spec)
        need: dict[Cell, int] = {}
        for (a, b), k in bridges.items():
            need[a] = need.get(a, 0) + k
            need[b] = need.get(b, 0) + k
        image = self._render(spec.side, need)
        answer = [
            {"start": cord(a), "end": cord(b), "number": k} for (a, b), k in sorted(bridges.items())
        ]
        letters = f"a-{chr(ord('a') + spec.side - 1)}"
        prompt = (
            "Hashi puzzle: connect the numbered circles (islands) with horizontal or vertical "
            "bridges. Each island's number is how many bridges end at it; two islands are joined "
            "by at most two bridges; bridges run straight along the dotted lines, never cross "
            "each other or pass over an island; all islands must end up connected. Cells are "
            f"named by column letter ({letters}, top) and row number (1-{spec.side}, left), e.g. "
            "b3. Give every joined pair once inside <answer></answer> as a JSON list like "
            '[{"start": "a1", "end": "a3", "number": 2}, ...].'
        )
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=json.dumps(answer),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "side": spec.side,
                "special_info": {
                    "init_islands": [
                        {"cord": cord(cell), "requirement": k} for cell, k in sorted(need.items())
                    ]
                },
            },
        )

    def _render(self, side: int, need: dict[Cell, int]) -> Image.Image:
        n = self.image_size
        cell = (n - 4) // (side + 1)  # one extra row / column for the labels
        o = n - 2 - side * cell  # left / top of the board; labels sit in the margin before it
        image = Image.new("RGB", (n, n), PAPER)
        draw = ImageDraw.Draw(image)
        half = cell // 2
        for k in range(side):  # dotted guide lines through cell centres
            p = o + k * cell + half
            for q in range(o + half, o + (side - 1) * cell + half + 1, 3):
                draw.point([(p, q), (q, p)], fill=GUIDE if (q - o) % 6 else (200, 200, 200))
        label = bold_font(round(cell * 0.45))
        for k in range(side):
            centre = o + k * cell + half
            draw.text(
                (centre, o // 2 + 1), chr(ord("a") + k), fill=CLUE_INK, font=label, anchor="mm"
            )
            draw.text((o // 2 + 1, centre), str(k + 1), fill=CLUE_INK, font=label, anchor="mm")
        radius = max(5, cell * 2 // 5)
        font = bold_font(round(cell * 0.5))
        for (r, c), k in need.items():
            x, y = o + c * cell + half, o + r * cell + half
            draw.ellipse(
                [x - radius, y - radius, x + radius, y + radius], fill=PAPER, outline=INK, width=2
            )
            draw.text((x + 1, y + 1), str(k), fill=INK, font=font, anchor="mm")
        return image
