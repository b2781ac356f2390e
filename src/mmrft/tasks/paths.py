"""Grid paths: "How many right/down paths lead from the green cell to the red one?"

Design note: an R x C grid with some cells blocked (black); the start is the top-left cell
(green) and the goal the bottom-right cell (red). Moves go one cell right or one cell down, only
through open cells. The answer is the number of such paths, computed by dynamic programming
(paths(r, c) = paths(r - 1, c) + paths(r, c - 1) over open cells); scenes with no path are
redrawn, so the answer is always >= 1. ``meta["blocked"]`` lists the blocked cells and
``meta["geometry"]`` the pixel origin and cell size, so the answer can be recomputed from the
scene or from the pixels. Verified by the "count" reward.

    level  grid  blocked cells
    1      2x3   0-1
    2      3x3   0-1
    3      3x4   1-2
    4      4x4   2-3
    5      4x5   3-4
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from PIL import Image, ImageDraw

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task

OPEN, BLOCKED, LINE = (255, 255, 255), (20, 20, 20), (120, 120, 120)
START, GOAL = (60, 180, 75), (230, 25, 75)
RESTARTS = 100


@dataclass(frozen=True)
class PathLevel:
    rows: int
    cols: int
    blocked: tuple[int, int]


PATH_LEVELS = {
    1: PathLevel(2, 3, (0, 1)),
    2: PathLevel(3, 3, (0, 1)),
    3: PathLevel(3, 4, (1, 2)),
    4: PathLevel(4, 4, (2, 3)),
    5: PathLevel(4, 5, (3, 4)),
}


def count_paths(rows: int, cols: int, blocked: set[tuple[int, int]]) -> int:
    """Right/down paths from (0, 0) to (rows-1, cols-1) through open cells.

    >>> count_paths(2, 2, set()), count_paths(3, 3, set()), count_paths(3, 3, {(1, 1)})
    (2, 6, 2)
    """
    ways = [[0] * cols for _ in range(rows)]
    for r in range(rows):
        for c in range(cols):
            if (r, c) in blocked:
                continue
            if r == c == 0:
                ways[r][c] = 1
            else:
                ways[r][c] = (ways[r - 1][c] if r else 0) + (ways[r][c - 1] if c else 0)
    return ways[-1][-1]


@TASKS.register("grid_paths")
class GridPathsTask(Task):
    """Count the monotone (right/down) paths between two cells of a grid with blocked cells.

    >>> from mmrft.tasks.paths import count_paths
    >>> s = GridPathsTask().generate(seed=0, level=2)
    >>> blocked = {tuple(b) for b in s.meta["blocked"]}
    >>> s.answer == str(count_paths(3, 3, blocked))
    True
    """

    name = "grid_paths"
    description = "Count the right/down paths from the green to the red cell of a grid."
    reward_name = "count"
    levels = tuple(PATH_LEVELS)

    def __init__(self, image_size: int = 112) -> None:
        if image_size < 64:
            raise ValueError(f"grid_paths needs image_size >= 64, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = PATH_LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        inner = [
            (r, c)
            for r in range(spec.rows)
            for c in range(spec.cols)
            if (r, c) not in ((0, 0), (spec.rows - 1, spec.cols - 1))
        ]
        for _ in range(RESTARTS):
            blocked = set(rng.sample(inner, rng.randint(*spec.blocked)))
            answer = count_paths(spec.rows, spec.cols, blocked)
            if answer > 0:
                break
        else:
            raise RuntimeError(f"no open grid found for level {level} (seed {seed})")
        cell = (self.image_size - 4) // max(spec.rows, spec.cols)
        origin_x = (self.image_size - cell * spec.cols) // 2
        origin_y = (self.image_size - cell * spec.rows) // 2
        image = Image.new("RGB", (self.image_size, self.image_size), OPEN)
        draw = ImageDraw.Draw(image)
        for r in range(spec.rows):
            for c in range(spec.cols):
                fill = BLOCKED if (r, c) in blocked else OPEN
                if (r, c) == (0, 0):
                    fill = START
                elif (r, c) == (spec.rows - 1, spec.cols - 1):
                    fill = GOAL
                x, y = origin_x + c * cell, origin_y + r * cell
                draw.rectangle([x, y, x + cell, y + cell], fill=fill, outline=LINE)
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=(
                "Moving one cell at a time, only right or down and never through a black cell, "
                "how many different paths lead from the green cell to the red cell?"
            ),
            answer=str(answer),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "blocked": sorted([r, c] for r, c in blocked),
                "geometry": {
                    "rows": spec.rows,
                    "cols": spec.cols,
                    "origin": [origin_x, origin_y],
                    "cell": cell,
                },
            },
        )
