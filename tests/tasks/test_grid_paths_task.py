"""grid_paths: the answer recomputed from the pixels by brute-force path enumeration."""

from __future__ import annotations

import numpy as np
import pytest
from family_checks import check_contract, gold_scores

from mmrft.tasks import TASKS
from mmrft.tasks.paths import BLOCKED


@pytest.fixture(scope="module")
def task():
    return TASKS.get("grid_paths")()


def _grid_from_pixels(sample) -> list[list[bool]]:
    """Open (True) / blocked (False) per cell, read at each cell's centre pixel."""
    g = sample.meta["geometry"]
    px = np.asarray(sample.images[0])
    ox, oy, cell = g["origin"][0], g["origin"][1], g["cell"]
    grid = []
    for r in range(g["rows"]):
        row = []
        for c in range(g["cols"]):
            colour = tuple(px[oy + r * cell + cell // 2, ox + c * cell + cell // 2])
            row.append(colour != BLOCKED)
        grid.append(row)
    return grid


def _enumerate(grid, r=0, c=0) -> int:
    """Every right/down path, walked one by one (a second route to the DP's count)."""
    rows, cols = len(grid), len(grid[0])
    if r >= rows or c >= cols or not grid[r][c]:
        return 0
    if (r, c) == (rows - 1, cols - 1):
        return 1
    return _enumerate(grid, r + 1, c) + _enumerate(grid, r, c + 1)


def test_contract(task):
    check_contract(task)


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
def test_answer_equals_paths_enumerated_from_the_pixels(task, level):
    answers = set()
    for seed in range(40):
        s = task.generate(seed, level)
        assert int(s.answer) == _enumerate(_grid_from_pixels(s)) >= 1, s.id
        answers.add(s.answer)
    assert len(answers) >= 3  # not one constant answer


def test_blocked_cells_in_meta_match_the_image(task):
    s = task.generate(3, 5)
    grid = _grid_from_pixels(s)
    blocked = {(r, c) for r, row in enumerate(grid) for c, ok in enumerate(row) if not ok}
    assert blocked == {tuple(b) for b in s.meta["blocked"]} and len(blocked) >= 3


def test_reward_accepts_gold(task):
    samples = [task.generate(seed, level) for level in task.levels for seed in range(4)]
    assert gold_scores(task, samples)["accuracy"] == [1.0] * len(samples)
