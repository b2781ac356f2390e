"""Grid puzzles: sudoku (4x4 with 2x2 boxes, 6x6 with 2-row x 3-column boxes), skyscraper and
yin-yang.

Every grid is a list of rows (``grid[r][c]``, row 0 at the top). Each puzzle's ``special_info``
carries ``base_matrix``: the printed clues as a grid of the same size with ``null``/``None``
for empty cells; an answer must keep every clue.

Official quirks kept (``strict=False``, the default and what ``RULES`` uses): sudoku and
skyscraper only ask that each row/column/box holds ``n`` *distinct* values (not that they are
1..n), and yin-yang does not reject values other than 0/1. ``strict=True`` adds those checks
for the practice tasks. A grid of the wrong shape is never accepted.

The ``check_*`` functions return a bool and never raise; the registered rules raise
``RuleInputError`` on malformed input so ``judge_rule`` can say why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mmrft.rewards.puzzle_rules.rules import RULES, RuleInputError

_MALFORMED = (RuleInputError, TypeError, KeyError, IndexError, ValueError, AttributeError)

_BOXES = {4: (2, 2), 6: (2, 3)}
"""Sudoku size -> (box rows, box columns)."""


def _grid(value: Any, n: int, field: str) -> list[list[Any]]:
    """``value`` as an n x n list of lists, or ``RuleInputError`` naming ``field``."""
    if (
        not isinstance(value, list)
        or len(value) != n
        or not all(isinstance(row, list) and len(row) == n for row in value)
    ):
        raise RuleInputError(f"{field}: expected a {n}x{n} grid (a list of {n} lists of {n})")
    return value


def _base_matrix(special_info: Any, n: int | None = None) -> list[list[Any]]:
    if not isinstance(special_info, Mapping) or "base_matrix" not in special_info:
        raise RuleInputError("special_info: expected an object with 'base_matrix'")
    base = special_info["base_matrix"]
    size = n if n is not None else (len(base) if isinstance(base, list) else 0)
    return _grid(base, size, "special_info.base_matrix")


def _keeps_clues(grid: Sequence[Sequence[Any]], base: Sequence[Sequence[Any]]) -> bool:
    return all(
        clue is None or clue == grid[r][c]
        for r, row in enumerate(base)
        for c, clue in enumerate(row)
    )


def _columns(grid: Sequence[Sequence[Any]]) -> list[list[Any]]:
    return [list(col) for col in zip(*grid, strict=True)]


def _all_distinct(groups: Sequence[Sequence[Any]], n: int) -> bool:
    return all(len(set(group)) == n for group in groups)


def _in_range(grid: Sequence[Sequence[Any]], values: set[int]) -> bool:
    return all(type(v) is int and v in values for row in grid for v in row)


def _sudoku(grid: Any, special_info: Any, n: int | None, strict: bool) -> bool:
    base = _base_matrix(special_info, n)
    n = len(base)
    if n not in _BOXES:
        raise RuleInputError(f"special_info.base_matrix: sudoku size {n} unsupported (4 or 6)")
    grid = _grid(grid, n, "response")
    if not _keeps_clues(grid, base):
        return False
    if strict and not _in_range(grid, set(range(1, n + 1))):
        return False
    box_rows, box_cols = _BOXES[n]
    boxes = [
        [grid[r][c] for r in range(r0, r0 + box_rows) for c in range(c0, c0 + box_cols)]
        for r0 in range(0, n, box_rows)
        for c0 in range(0, n, box_cols)
    ]
    return _all_distinct(grid, n) and _all_distinct(_columns(grid), n) and _all_distinct(boxes, n)


def check_sudoku(grid: Any, special_info: Any, *, strict: bool = False) -> bool:
    """A filled 4x4 (2x2 boxes) or 6x6 (boxes of 2 rows x 3 columns) sudoku.

    ``special_info``: ``{"base_matrix": [[1, null, null, 4], ...]}``, the puzzle's clues; its
    size (4 or 6) sets the puzzle size. Each row, column and box holds n distinct values
    (``strict``: exactly the integers 1..n).

    >>> base = [[1, None, None, None], [None, None, 1, None], [None, 1, None, None], [None, None, None, 1]]
    >>> check_sudoku([[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]], {"base_matrix": base})
    True
    """
    try:
        return _sudoku(grid, special_info, None, strict)
    except _MALFORMED:
        return False


@RULES.register("calculate_answer_function_sudoku_4")
def calculate_answer_function_sudoku_4(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """A 4x4 sudoku with 2x2 boxes (see ``check_sudoku``)."""
    return _sudoku(response, special_info, 4, strict=False)


@RULES.register("calculate_answer_function_sudoku_6")
def calculate_answer_function_sudoku_6(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """A 6x6 sudoku with boxes of 2 rows x 3 columns (see ``check_sudoku``)."""
    return _sudoku(response, special_info, 6, strict=False)


def _visible(heights: Sequence[Any]) -> int:
    """How many buildings are seen from the start of the line (each taller than all before)."""
    count, tallest = 0, None
    for h in heights:
        if tallest is None or h > tallest:
            count, tallest = count + 1, h
    return count


def _skyscraper(grid: Any, special_info: Any, strict: bool) -> bool:
    base = _base_matrix(special_info)
    n = len(base)
    clues = special_info.get("visible_skyscrapers")
    if (
        not isinstance(clues, list)
        or len(clues) != 4
        or not all(isinstance(side, list) and len(side) == n for side in clues)
    ):
        raise RuleInputError(
            f"special_info.visible_skyscrapers: expected 4 lists (top, left, right, bottom) of {n}"
        )
    grid = _grid(grid, n, "response")
    if not _keeps_clues(grid, base):
        return False
    if strict and not _in_range(grid, set(range(1, n + 1))):
        return False
    rows, cols = grid, _columns(grid)
    if not (_all_distinct(rows, n) and _all_distinct(cols, n)):
        return False
    top, left, right, bottom = clues
    views = [
        (top, cols),  # looking down each column
        (left, rows),  # looking right along each row
        (right, [row[::-1] for row in rows]),
        (bottom, [col[::-1] for col in cols]),
    ]
    return all(
        clue is None or _visible(line) == clue
        for side, lines in views
        for clue, line in zip(side, lines, strict=True)
    )


def check_skyscraper(grid: Any, special_info: Any, *, strict: bool = False) -> bool:
    """A filled n x n skyscraper grid: rows and columns distinct, every visibility clue met.

    ``special_info``::

        {"base_matrix": n x n clues (null = empty),
         "visible_skyscrapers": [top, left, right, bottom]}

    each side a list of n clues (null = no clue): ``top[c]`` is seen looking down column c,
    ``left[r]`` looking right along row r, ``right[r]`` looking left along row r, ``bottom[c]``
    looking up column c. A building is seen when it is taller than every one before it.
    ``strict``: cells are exactly the integers 1..n.

    >>> info = {"base_matrix": [[None] * 3] * 3, "visible_skyscrapers": [[3, 2, 1], [3, 2, 1], [1, 2, 2], [1, 2, 2]]}
    >>> check_skyscraper([[1, 2, 3], [2, 3, 1], [3, 1, 2]], info)
    True
    """
    try:
        return _skyscraper(grid, special_info, strict)
    except _MALFORMED:
        return False


@RULES.register("calculate_answer_function_skyscraper")
def calculate_answer_function_skyscraper(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """Skyscraper (see ``check_skyscraper``)."""
    return _skyscraper(response, special_info, strict=False)


def _connected(grid: Sequence[Sequence[Any]], value: int) -> bool:
    """All cells equal to ``value`` form one 4-connected region (vacuously true if none)."""
    cells = {(r, c) for r, row in enumerate(grid) for c, v in enumerate(row) if v == value}
    if not cells:
        return True
    stack = [next(iter(cells))]
    seen = set(stack)
    while stack:
        r, c = stack.pop()
        for nb in ((r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)):
            if nb in cells and nb not in seen:
                seen.add(nb)
                stack.append(nb)
    return seen == cells


def _has_2x2(grid: Sequence[Sequence[Any]], value: int) -> bool:
    n = len(grid)
    return any(
        grid[r][c] == grid[r][c + 1] == grid[r + 1][c] == grid[r + 1][c + 1] == value
        for r in range(n - 1)
        for c in range(n - 1)
    )


def _yinyang(grid: Any, special_info: Any, n: int | None, strict: bool) -> bool:
    base = _base_matrix(special_info, n)
    grid = _grid(grid, len(base), "response")
    if not _keeps_clues(grid, base):
        return False
    if strict and not all(v in (0, 1) and type(v) is int for row in grid for v in row):
        return False
    return all(_connected(grid, v) and not _has_2x2(grid, v) for v in (0, 1))


def check_yinyang(grid: Any, special_info: Any, *, strict: bool = False) -> bool:
    """A yin-yang grid of 0s and 1s: each colour one 4-connected region, no 2x2 block of one.

    ``special_info``: ``{"base_matrix": n x n clues of 0/1/null}`` (the benchmark's are 6x6).
    ``strict``: cells are exactly 0 or 1.

    >>> check_yinyang([[0, 0, 0], [0, 1, 0], [0, 1, 1]], {"base_matrix": [[None] * 3] * 3})
    True
    """
    try:
        return _yinyang(grid, special_info, None, strict)
    except _MALFORMED:
        return False


@RULES.register("calculate_answer_function_yinyang")
def calculate_answer_function_yinyang(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """A 6x6 yin-yang (see ``check_yinyang``)."""
    return _yinyang(response, special_info, 6, strict=False)
