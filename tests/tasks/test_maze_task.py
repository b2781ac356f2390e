"""The maze task: the grid is read back from the PNG's pixels and searched again here."""

import doctest
from collections import deque

import numpy as np
import pytest
from family_checks import check_contract, gold_scores, reload_png

import mmrft.tasks.maze
from mmrft.rewards import REWARDS
from mmrft.tasks import TASKS
from mmrft.tasks.maze import LEVELS

SEEDS = range(40)


@pytest.fixture(scope="module")
def task():
    return TASKS.get("maze")()


def grid_from_pixels(image, side):
    """``(open [side, side] bool, start, goal)`` from a PNG: the maze is the bounding box of the
    non-white pixels (its border is wall), cut into ``side`` blocks, each read at its centre."""
    pixels = np.asarray(reload_png(image)).astype(int)
    ys, xs = np.nonzero((pixels != 255).any(-1))
    (y0, y1), (x0, x1) = (ys.min(), ys.max() + 1), (xs.min(), xs.max() + 1)
    assert y1 - y0 == x1 - x0 and (x1 - x0) % side == 0  # square, whole blocks
    cell = (x1 - x0) // side
    centres = pixels[y0 + cell // 2 : y1 : cell, x0 + cell // 2 : x1 : cell]  # [side, side, 3]
    black = (centres == 0).all(-1)
    green = (centres == [60, 180, 75]).all(-1)
    red = (centres == [230, 25, 75]).all(-1)
    white = (centres == 255).all(-1)
    assert (black | green | red | white).all()  # every block is one flat colour
    assert green.sum() == 1 and red.sum() == 1
    start, goal = (tuple(int(v) for v in np.argwhere(m)[0]) for m in (green, red))
    return ~black, start, goal


def bfs(free, start, goal):
    """Fewest 4-neighbour moves from start to goal over ``free`` blocks, or None."""
    seen, frontier, steps = {start}, [start], 0
    while frontier:
        if goal in frontier:
            return steps
        nxt = []
        for r, c in frontier:
            for n in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
                inside = 0 <= n[0] < free.shape[0] and 0 <= n[1] < free.shape[1]
                if inside and free[n] and n not in seen:
                    seen.add(n)
                    nxt.append(n)
        frontier, steps = nxt, steps + 1
    return None


def reachable(free, start):
    seen, queue = {start}, deque([start])
    while queue:
        r, c = queue.popleft()
        for n in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if free[n] and n not in seen:
                seen.add(n)
                queue.append(n)
    return len(seen)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_answer_from_pixels(task, level):
    side = LEVELS[level].side
    answers = []
    for seed in SEEDS:
        sample = task.generate(seed, level)
        free, start, goal = grid_from_pixels(sample.images[0], side)
        assert int(sample.answer) == bfs(free, start, goal), seed
        # meta agrees with the picture; the border is wall; every open block is reachable.
        assert ["".join(".#"[not f] for f in row) for row in free] == sample.meta["grid"]
        assert [list(start), list(goal)] == [sample.meta["start"], sample.meta["goal"]]
        assert not free[0].any() and not free[-1].any() and not free[:, 0].any()
        assert reachable(free, start) == free.sum()
        path = [tuple(p) for p in sample.meta["path"]]
        assert path[0] == start and path[-1] == goal and len(path) == int(sample.answer) + 1
        assert all(free[p] for p in path)
        assert all(
            abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(path, path[1:], strict=False)
        )
        answers.append(int(sample.answer))
    assert len(set(answers)) >= 5 and len({a % 2 for a in answers}) == 2  # varied, both parities


def test_levels_get_harder(task):
    sides, means, closed = [], [], []
    for level in task.levels:
        samples = [task.generate(seed, level) for seed in range(30)]
        sides.append(len(samples[0].meta["grid"]))
        means.append(np.mean([int(s.answer) for s in samples]))
        # Wall density among the blocks that separate two lattice cells (odd + even coords).
        walls = [
            row[c] == "#"
            for s in samples
            for r, row in enumerate(s.meta["grid"][1:-1], start=1)
            for c in range(1, len(row) - 1)
            if (r + c) % 2 == 1
        ]
        closed.append(np.mean(walls))
    assert sides == sorted(sides) and len(set(sides)) == 5
    assert all(a < b for a, b in zip(means, means[1:], strict=False))
    assert all(a < b for a, b in zip(closed, closed[1:], strict=False))


def test_contract_and_reward(task):
    check_contract(task)
    samples = [task.generate(seed, level) for level in task.levels for seed in range(4)]
    assert gold_scores(task, samples)["accuracy"] == [1.0] * len(samples)
    s = samples[-1]
    completions = [f"<answer>{int(s.answer) + 1}</answer>", f"<answer>{s.answer} moves</answer>"]
    assert REWARDS.get(task.reward_name)(completions, [s, s])["accuracy"] == [0.0, 1.0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_size"):
        TASKS.get("maze")(image_size=60)


def test_doctests():
    result = doctest.testmod(mmrft.tasks.maze)
    assert result.attempted and not result.failed
