"""MME-Reasoning-style logic puzzles drawn as images: sudoku and skyscraper (+ shared drawing).

Design note: these tasks practise the puzzle kinds of the MME-Reasoning benchmark without its
images. Each generator is seeded (``random.Random(f"{name}/L{level}/{seed}")``), draws with PIL
at integer coordinates, and stores ``meta["special_info"]`` in the layout the benchmark's own
validators read (re-implemented in ``mmrft.rewards.puzzle_rules``); the reward checks the rules
against that, not a stored answer, so any valid solution scores. ``answer`` is one valid
solution in the form the prompt asks for (what the benchmark's answer extraction produces: a
JSON list of lists for grids, a JSON object for lettered cells, a list of bridges for hashi,
an arithmetic expression for 24 points). Every puzzle has a unique solution except 24 points
(any expression that uses the four cards and makes 24 is right).

sudoku: a shuffled base pattern (rows within bands, bands, columns within stacks, stacks,
digits; transposed too for square boxes), then clues removed in random order while the solution
stays unique. special_info ``{"base_matrix": [[int | None]]}`` (None = blank).

    level  grid  boxes  blanks
    1      4x4   2x2    4
    2      4x4   2x2    8
    3      4x4   2x2    10
    4      6x6   2x3    14
    5      6x6   2x3    20

skyscraper: a random Latin square of heights 1..N; a clue outside a line counts the towers seen
from that side (a tower hides every lower one behind it). Clues are removed in random order
while the solution stays unique; where the full clue set is not unique, given heights are added
from a second solution's first disagreement until it is. special_info ``{"base_matrix",
"visible_skyscrapers": [top, left, right, bottom]}`` (top/bottom per column, left/right per
row, None = no clue), the benchmark's layout.

    level  N  clues dropped (of 4N)
    1      3  0
    2      4  0
    3      4  up to 8
    4      5  0
    5      5  up to 10

magic_sum and points24 are in ``logic_puzzles_sums.py``, hashi in ``logic_puzzles_hashi.py``.
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task

Grid = list[list[int | None]]
INK = (0, 0, 0)
THIN = (120, 120, 120)
PAPER = (255, 255, 255)
CLUE_INK = (20, 60, 170)


@functools.lru_cache(maxsize=64)
def bold_font(size: int) -> ImageFont.FreeTypeFont:
    from mmrft.tasks.ocr import load_font

    return load_font("DejaVuSans-Bold.ttf", max(6, size))


def grid_json(grid: Sequence[Sequence[int | None]]) -> str:
    """A grid as the answer text: ``[[1, 2], [2, 1]]`` (JSON, one line)."""
    return json.dumps([list(row) for row in grid])


def draw_board(
    draw: ImageDraw.ImageDraw,
    values: Sequence[Sequence[int | None]],
    origin: tuple[int, int],
    cell: int,
    box: tuple[int, int] | None = None,
) -> None:
    """Cells of ``cell`` px from ``origin``, thin rules, thick rules every ``box`` rows/cols and
    round the edge, each non-None value centred in bold."""
    rows, cols = len(values), len(values[0])
    x0, y0 = origin
    br, bc = box or (rows, cols)
    for k in range(cols + 1):
        x = x0 + k * cell
        w = 1 if k % bc else 2
        draw.rectangle([x - w + 1, y0, x + w - 1, y0 + rows * cell], fill=INK if w > 1 else THIN)
    for k in range(rows + 1):
        y = y0 + k * cell
        w = 1 if k % br else 2
        draw.rectangle([x0, y - w + 1, x0 + cols * cell, y + w - 1], fill=INK if w > 1 else THIN)
    font = bold_font(round(cell * 0.62))
    for r, row in enumerate(values):
        for c, v in enumerate(row):
            if v is not None:
                centre = (x0 + c * cell + cell // 2 + 1, y0 + r * cell + cell // 2 + 1)
                draw.text(centre, str(v), fill=INK, font=font, anchor="mm")


def count_solutions(
    grid: Grid, candidates: Callable[[Grid, int, int], Sequence[int]], limit: int = 2
) -> int:
    """How many ways to fill the blanks (None) of ``grid``, counted up to ``limit``.

    Backtracking; ``candidates(grid, r, c)`` lists the values allowed at a blank, and the blank
    with the fewest is filled first.
    """
    found = 0

    def solve() -> None:
        nonlocal found
        best, best_opts = None, None
        for r, row in enumerate(grid):
            for c, v in enumerate(row):
                if v is None:
                    opts = candidates(grid, r, c)
                    if best_opts is None or len(opts) < len(best_opts):
                        best, best_opts = (r, c), opts
        if best is None:
            found += 1
            return
        r, c = best
        for v in best_opts or ():
            grid[r][c] = v
            solve()
            grid[r][c] = None
            if found >= limit:
                return

    grid = [list(row) for row in grid]
    solve()
    return found


def _prompt_grid_answer(n: int) -> str:
    """The answer-format sentence of the grid puzzles, with a 2-row example of the syntax."""
    row = ", ".join(str(k) for k in range(1, n + 1))
    return (
        f"Give the completed {n}x{n} grid inside <answer></answer> as a JSON list of {n} rows, "
        f"each a list of {n} integers, top row first, like [[{row}], [...], ...]."
    )


# ---------------------------------------------------------------------------- sudoku


@dataclass(frozen=True)
class SudokuLevel:
    n: int
    box: tuple[int, int]  # rows x cols of a box
    blanks: int


SUDOKU_LEVELS: dict[int, SudokuLevel] = {
    1: SudokuLevel(4, (2, 2), 4),
    2: SudokuLevel(4, (2, 2), 8),
    3: SudokuLevel(4, (2, 2), 10),
    4: SudokuLevel(6, (2, 3), 14),
    5: SudokuLevel(6, (2, 3), 20),
}


def sudoku_candidates(box: tuple[int, int]) -> Callable[[Grid, int, int], list[int]]:
    """Digits not yet in the cell's row, column or box."""
    br, bc = box

    def candidates(grid: Grid, r: int, c: int) -> list[int]:
        n = len(grid)
        used = set(grid[r]) | {grid[i][c] for i in range(n)}
        r0, c0 = r - r % br, c - c % bc
        used |= {grid[i][j] for i in range(r0, r0 + br) for j in range(c0, c0 + bc)}
        return [d for d in range(1, n + 1) if d not in used]

    return candidates


def random_sudoku(rng: random.Random, n: int, box: tuple[int, int]) -> list[list[int]]:
    """A full valid grid: the base pattern with rows, bands, columns, stacks and digits shuffled."""
    br, bc = box
    base = [[(bc * (r % br) + r // br + c) % n + 1 for c in range(n)] for r in range(n)]
    bands = rng.sample(range(n // br), n // br)
    rows = [b * br + i for b in bands for i in rng.sample(range(br), br)]
    stacks = rng.sample(range(n // bc), n // bc)
    cols = [s * bc + j for s in stacks for j in rng.sample(range(bc), bc)]
    digits = rng.sample(range(1, n + 1), n)
    grid = [[digits[base[r][c] - 1] for c in cols] for r in rows]
    if br == bc and rng.random() < 0.5:
        grid = [list(col) for col in zip(*grid, strict=True)]
    return grid


def remove_while_unique(
    rng: random.Random, solution: list[list[int]], blanks: int, candidates
) -> Grid:
    """``solution`` with up to ``blanks`` cells blanked (random order), the solution unique."""
    puzzle: Grid = [list(row) for row in solution]
    cells = [(r, c) for r in range(len(puzzle)) for c in range(len(puzzle[0]))]
    removed = 0
    for r, c in rng.sample(cells, len(cells)):
        if removed == blanks:
            break
        keep, puzzle[r][c] = puzzle[r][c], None
        if count_solutions(puzzle, candidates) == 1:
            removed += 1
        else:
            puzzle[r][c] = keep
    return puzzle


@TASKS.register("sudoku")
class SudokuTask(Task):
    """Fill a 4x4 or 6x6 sudoku; ``answer`` is the solved grid as a JSON list of lists.

    >>> s = SudokuTask().generate(seed=0, level=1)
    >>> len(json.loads(s.answer)), sum(v is None for row in s.meta["special_info"]["base_matrix"] for v in row)
    (4, 4)
    """

    name = "sudoku"
    description = "Solve a 4x4 or 6x6 sudoku drawn as an image; answer the grid as JSON."
    reward_name = "puzzle_sudoku"
    levels = tuple(SUDOKU_LEVELS)

    def __init__(self, image_size: int = 224) -> None:
        if image_size < 96:
            raise ValueError(f"sudoku needs image_size >= 96, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = SUDOKU_LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        solution = random_sudoku(rng, spec.n, spec.box)
        puzzle = remove_while_unique(rng, solution, spec.blanks, sudoku_candidates(spec.box))
        n, (br, bc) = spec.n, spec.box
        cell = (self.image_size - 8) // n
        image = Image.new("RGB", (self.image_size, self.image_size), PAPER)
        origin = (self.image_size - cell * n) // 2
        draw_board(ImageDraw.Draw(image), puzzle, (origin, origin), cell, spec.box)
        prompt = (
            f"Solve the {n}x{n} sudoku in the image: fill every empty cell with a digit 1-{n} so "
            f"that each row, each column and each {br}x{bc} box (outlined thick) contains every "
            f"digit 1-{n} exactly once. Keep the given digits. " + _prompt_grid_answer(n)
        )
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=grid_json(solution),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "size": n,
                "box": [br, bc],
                "special_info": {"base_matrix": puzzle},
            },
        )


# ---------------------------------------------------------------------------- skyscraper


@dataclass(frozen=True)
class SkyscraperLevel:
    n: int
    drop: int  # clues removed (at most; each only while the solution stays unique)


SKYSCRAPER_LEVELS: dict[int, SkyscraperLevel] = {
    1: SkyscraperLevel(3, 0),
    2: SkyscraperLevel(4, 0),
    3: SkyscraperLevel(4, 8),
    4: SkyscraperLevel(5, 0),
    5: SkyscraperLevel(5, 10),
}


def visible(line: Sequence[int]) -> int:
    """Towers seen from the start of ``line``: those taller than every one before them.

    >>> visible([2, 1, 3, 4]), visible([4, 1, 2, 3])
    (3, 1)
    """
    seen, tallest = 0, 0
    for h in line:
        if h > tallest:
            seen, tallest = seen + 1, h
    return seen


def skyscraper_clues(grid: Sequence[Sequence[int]]) -> list[list[int]]:
    """``[top, left, right, bottom]``: towers seen from each side, per column / row."""
    cols = [list(col) for col in zip(*grid, strict=True)]
    return [
        [visible(col) for col in cols],
        [visible(row) for row in grid],
        [visible(row[::-1]) for row in grid],
        [visible(col[::-1]) for col in cols],
    ]


def skyscraper_solutions(
    clues: list[list[int | None]], base: Grid, limit: int = 2, skip: Grid | None = None
) -> list[list[list[int]]]:
    """Up to ``limit`` grids meeting ``clues`` and the givens of ``base``, other than ``skip``.

    Row by row over the permutations each row's left/right clues and givens allow (each with a
    bitmask of its (column, height) pairs, so "no height repeats in a column" is one AND); a
    column is pruned as soon as its top clue is exceeded (or missed once its tallest tower is
    placed), and the bottom clues are checked on full grids.
    """
    n = len(base)
    top, left, right, bottom = clues
    perms = list(itertools.permutations(range(1, n + 1)))
    rows = [
        [
            p
            for p in perms
            if (left[r] is None or visible(p) == left[r])
            and (right[r] is None or visible(p[::-1]) == right[r])
            and all(g is None or g == h for g, h in zip(base[r], p, strict=True))
        ]
        for r in range(n)
    ]
    masks = {p: sum(1 << (c * n + h - 1) for c, h in enumerate(p)) for p in perms}
    found: list[list[list[int]]] = []
    chosen: list[tuple[int, ...]] = []

    def column_ok(c: int) -> bool:
        if top[c] is None:
            return True
        col = [row[c] for row in chosen]
        seen = visible(col)
        return seen == top[c] if n in col else seen < top[c]

    def search(used: int = 0) -> None:
        r = len(chosen)
        if r == n:
            grid = [list(row) for row in chosen]
            cols = list(zip(*grid, strict=True))
            if grid != skip and all(
                want is None or visible(col[::-1]) == want
                for want, col in zip(bottom, cols, strict=True)
            ):
                found.append(grid)
            return
        for p in rows[r]:
            if masks[p] & used:
                continue
            chosen.append(p)
            if all(column_ok(c) for c in range(n)):
                search(used | masks[p])
            chosen.pop()
            if len(found) >= limit:
                return

    search()
    return found


def latin_candidates(grid: Grid, r: int, c: int) -> list[int]:
    n = len(grid)
    used = set(grid[r]) | {grid[i][c] for i in range(n)}
    return [h for h in range(1, n + 1) if h not in used]


def random_latin(rng: random.Random, n: int) -> list[list[int]]:
    """A Latin square: rows, columns and symbols of the cyclic square shuffled, then a random
    fill-in of a half-emptied copy so that non-cyclic squares appear too."""
    cyclic = [[(r + c) % n + 1 for c in range(n)] for r in range(n)]
    rows, cols, syms = rng.sample(range(n), n), rng.sample(range(n), n), rng.sample(range(n), n)
    square: Grid = [[syms[cyclic[r][c] - 1] + 1 for c in cols] for r in rows]
    for r, c in rng.sample([(r, c) for r in range(n) for c in range(n)], n * n // 2):
        square[r][c] = None
    # Fill the blanks in reading order, each with a random value that leaves a solution.
    while blanks := [(r, c) for r in range(n) for c in range(n) if square[r][c] is None]:
        r, c = blanks[0]
        options = latin_candidates(square, r, c)
        for h in rng.sample(options, len(options)):
            square[r][c] = h
            if count_solutions(square, latin_candidates, limit=1):
                break
            square[r][c] = None
    return square  # type: ignore[return-value]


def skyscraper_puzzle(
    rng: random.Random, solution: list[list[int]], drop: int
) -> tuple[list[list[int | None]], Grid]:
    """``(clues, base_matrix)`` whose only solution is ``solution``."""
    n = len(solution)
    clues: list[list[int | None]] = [list(side) for side in skyscraper_clues(solution)]
    base: Grid = [[None] * n for _ in range(n)]
    while others := skyscraper_solutions(clues, base, limit=1, skip=solution):  # givens
        other = others[0]
        r, c = next((r, c) for r in range(n) for c in range(n) if other[r][c] != solution[r][c])
        base[r][c] = solution[r][c]
    slots = [(s, i) for s in range(4) for i in range(n)]
    dropped = 0
    for s, i in rng.sample(slots, len(slots)):
        if dropped == drop:
            break
        keep, clues[s][i] = clues[s][i], None
        if skyscraper_solutions(clues, base, limit=1, skip=solution):
            clues[s][i] = keep
        else:
            dropped += 1
    return clues, base


@TASKS.register("skyscraper")
class SkyscraperTask(Task):
    """Place towers of heights 1..N so the edge clues count the towers seen; answer the grid.

    >>> s = SkyscraperTask().generate(seed=0, level=1)
    >>> sorted(json.loads(s.answer)[0])
    [1, 2, 3]
    """

    name = "skyscraper"
    description = "Solve a skyscraper puzzle (towers seen from each edge); answer the grid as JSON."
    reward_name = "puzzle_skyscraper"
    levels = tuple(SKYSCRAPER_LEVELS)

    def __init__(self, image_size: int = 224) -> None:
        if image_size < 96:
            raise ValueError(f"skyscraper needs image_size >= 96, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = SKYSCRAPER_LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        n = spec.n
        solution = random_latin(rng, n)
        clues, base = skyscraper_puzzle(rng, solution, spec.drop)
        cell = (self.image_size - 4) // (n + 2)
        o = (self.image_size - cell * (n + 2)) // 2 + cell  # top-left of the inner grid
        image = Image.new("RGB", (self.image_size, self.image_size), PAPER)
        draw = ImageDraw.Draw(image)
        draw_board(draw, base, (o, o), cell)
        font = bold_font(round(cell * 0.55))
        top, left, right, bottom = clues
        for i in range(n):
            mid = o + i * cell + cell // 2 + 1
            for value, xy in (
                (top[i], (mid, o - cell // 2)),
                (bottom[i], (mid, o + n * cell + cell // 2)),
                (left[i], (o - cell // 2, mid)),
                (right[i], (o + n * cell + cell // 2, mid)),
            ):
                if value is not None:
                    draw.text(xy, str(value), fill=CLUE_INK, font=font, anchor="mm")
        prompt = (
            f"Skyscraper puzzle: place a tower of height 1-{n} in every cell of the {n}x{n} grid "
            "so that each row and each column holds every height exactly once. A number outside "
            "the grid says how many towers are visible looking from that side along its row or "
            "column (a taller tower hides every lower one behind it). Keep any heights already "
            "given. " + _prompt_grid_answer(n)
        )
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=grid_json(solution),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "size": n,
                "special_info": {"base_matrix": base, "visible_skyscrapers": clues},
            },
        )
