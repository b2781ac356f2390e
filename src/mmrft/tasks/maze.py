"""Mazes: the fewest moves from the green square to the red one ("maze").

Design note: a maze is a square grid of ``side`` blocks, each a wall (black) or open (white),
drawn as flat squares of ``cell`` px (no anti-aliasing, so a test can read the grid back from
pixel centres). It is carved by a randomised depth-first search on the ``k x k`` lattice of
odd-coordinate blocks (``side = 2k + 1``; a perfect maze, every open block reachable, one path
between any two), then a fraction ``openings`` of the remaining inner walls that separate two
lattice cells is knocked out, which adds loops so the shortest path is not simply "the" path.
Start (green) and goal (red) are open blocks, the goal drawn from those at least half the
maximum distance from the start, so a path always exists and is not trivially short. Start and
goal may sit on corridor blocks as well as lattice cells, so the answer's parity varies.

``answer`` is the breadth-first-search distance in single-block moves (up / down / left / right),
scored by the "numeric" reward. ``meta["grid"]`` holds the maze as rows of "#" (wall) and "."
(open), with ``start`` / ``goal`` as ``[row, col]`` and ``path``, one shortest path.

Levels (harder = more blocks and fewer extra openings, i.e. a denser maze):

    level  lattice  side (blocks)  openings
    1      3 x 3    7              25%
    2      4 x 4    9              15%
    3      5 x 5    11             10%
    4      7 x 7    15             6%
    5      9 x 9    19             3%
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass

import numpy as np
from PIL import Image

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import BACKGROUND, COLOURS

WALL_RGB = (0, 0, 0)
OPEN_RGB = BACKGROUND
START_RGB = COLOURS["green"]
GOAL_RGB = COLOURS["red"]
Cell = tuple[int, int]
STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))


@dataclass(frozen=True)
class LevelSpec:
    lattice: int  # k: the maze has side 2k + 1 blocks
    openings: float  # fraction of inner walls between two lattice cells knocked out

    @property
    def side(self) -> int:
        return 2 * self.lattice + 1


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec(3, 0.25),
    2: LevelSpec(4, 0.15),
    3: LevelSpec(5, 0.10),
    4: LevelSpec(7, 0.06),
    5: LevelSpec(9, 0.03),
}


def carve(rng: random.Random, k: int, openings: float) -> list[list[bool]]:
    """A ``(2k+1) x (2k+1)`` grid, True = open: a DFS maze plus ``openings`` of inner walls."""
    side = 2 * k + 1
    grid = [[False] * side for _ in range(side)]
    grid[1][1] = True
    stack, seen = [(0, 0)], {(0, 0)}
    while stack:  # iterative randomised DFS ("recursive backtracker")
        i, j = stack[-1]
        nexts = [(i + di, j + dj) for di, dj in STEPS if (i + di, j + dj) not in seen]
        nexts = [(a, b) for a, b in nexts if 0 <= a < k and 0 <= b < k]
        if not nexts:
            stack.pop()
            continue
        a, b = rng.choice(nexts)
        grid[2 * a + 1][2 * b + 1] = True
        grid[i + a + 1][j + b + 1] = True  # the wall block between the two cells
        seen.add((a, b))
        stack.append((a, b))
    walls = [
        (r, c)
        for r in range(1, side - 1)
        for c in range(1, side - 1)
        if (r + c) % 2 == 1 and not grid[r][c]  # between two lattice cells, still closed
    ]
    for r, c in rng.sample(walls, round(openings * len(walls))):
        grid[r][c] = True
    return grid


def distances(grid: list[list[bool]], start: Cell) -> dict[Cell, int]:
    """Breadth-first-search moves from ``start`` to every reachable open block."""
    dist, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        for dr, dc in STEPS:
            nxt = (r + dr, c + dc)
            if grid[nxt[0]][nxt[1]] and nxt not in dist:  # the border is all wall
                dist[nxt] = dist[(r, c)] + 1
                queue.append(nxt)
    return dist


def shortest_path(dist_from_start: dict[Cell, int], goal: Cell) -> list[Cell]:
    """One shortest path start -> goal, walked back from the goal along decreasing distance."""
    path = [goal]
    while dist_from_start[path[-1]] > 0:
        r, c = path[-1]
        want = dist_from_start[(r, c)] - 1
        path.append(
            next((r + a, c + b) for a, b in STEPS if dist_from_start.get((r + a, c + b)) == want)
        )
    return path[::-1]


@TASKS.register("maze")
class MazeTask(Task):
    """Shortest path length through a block maze; ``answer`` is the number of moves.

    Args:
        image_size: side of the square image in pixels; each block is
            ``image_size // side`` px (at least 4, so 19 blocks need 76 px).

    >>> s = MazeTask().generate(seed=0, level=1)
    >>> int(s.answer) == len(s.meta["path"]) - 1, s.images[0].size
    (True, (128, 128))
    """

    name = "maze"
    description = "Count the fewest moves from the green to the red square through a maze."
    reward_name = "numeric"
    levels = tuple(LEVELS)

    def __init__(self, image_size: int = 128) -> None:
        largest = max(spec.side for spec in LEVELS.values())
        if image_size < 4 * largest:
            raise ValueError(f"maze needs image_size >= {4 * largest}, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        grid = carve(rng, spec.lattice, spec.openings)
        open_blocks = [(r, c) for r, row in enumerate(grid) for c, free in enumerate(row) if free]
        start = rng.choice(open_blocks)
        dist = distances(grid, start)
        far = max(dist.values())
        goal = rng.choice(sorted(b for b, d in dist.items() if 2 * d >= far and d > 0))
        cell = self.image_size // spec.side
        origin = (self.image_size - cell * spec.side) // 2
        prompt = (
            "The image shows a maze from above: black squares are walls, white squares are "
            "open. Moving one square at a time up, down, left or right through open squares, "
            "what is the fewest number of moves from the green square to the red square?"
        )
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=str(dist[goal]),
            images=[self._render(grid, start, goal, cell, origin)],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "grid": ["".join("." if free else "#" for free in row) for row in grid],
                "start": list(start),
                "goal": list(goal),
                "path": [list(p) for p in shortest_path(dist, goal)],
                "geometry": {"side": spec.side, "cell": cell, "origin": origin},
            },
        )

    def _render(
        self, grid: list[list[bool]], start: Cell, goal: Cell, cell: int, origin: int
    ) -> Image.Image:
        blocks = np.where(np.array(grid)[..., None], OPEN_RGB, WALL_RGB).astype(np.uint8)
        blocks[start], blocks[goal] = START_RGB, GOAL_RGB
        scaled = blocks.repeat(cell, axis=0).repeat(cell, axis=1)  # [side * cell, side * cell, 3]
        pixels = np.full((self.image_size, self.image_size, 3), BACKGROUND, dtype=np.uint8)
        pixels[origin : origin + len(scaled), origin : origin + len(scaled)] = scaled
        return Image.fromarray(pixels)
