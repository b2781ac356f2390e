"""Sudoku 4x4/6x6, skyscraper and yin-yang: a solution, one break per constraint, bad input."""

from __future__ import annotations

import copy

import pytest

from mmrft.rewards.puzzle_rules import (
    RULES,
    RuleInputError,
    check_skyscraper,
    check_sudoku,
    check_yinyang,
    judge_rule,
)

N = None

# --- sudoku -----------------------------------------------------------------------------

S4 = [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]
B4 = [[1, N, N, N], [N, N, 1, N], [N, 1, N, N], [N, N, N, 1]]
# 6x6 with boxes of 2 rows x 3 columns: each row pair splits into two boxes holding 1..6.
S6 = [
    [1, 2, 3, 4, 5, 6],
    [4, 5, 6, 1, 2, 3],
    [2, 3, 1, 5, 6, 4],
    [5, 6, 4, 2, 3, 1],
    [3, 1, 2, 6, 4, 5],
    [6, 4, 5, 3, 1, 2],
]
B6 = [[1, N, N, N, N, N], [N] * 6, [N, N, 1, N, N, N], [N] * 6, [N] * 6, [N, N, N, N, N, 2]]


def sudoku4(grid, base=B4):
    return RULES.get("calculate_answer_function_sudoku_4")(grid, None, {"base_matrix": base})


def sudoku6(grid, base=B6):
    return RULES.get("calculate_answer_function_sudoku_6")(grid, None, {"base_matrix": base})


def test_sudoku_solutions():
    assert sudoku4(S4) is True and sudoku6(S6) is True
    assert check_sudoku(S4, {"base_matrix": B4}) is True
    assert check_sudoku(S6, {"base_matrix": B6}, strict=True) is True


def test_sudoku_each_constraint():
    # boxes only: a cyclic Latin square, rows and columns fine, top-left box is 1 2 / 2 3
    latin = [[1, 2, 3, 4], [2, 3, 4, 1], [3, 4, 1, 2], [4, 1, 2, 3]]
    assert sudoku4(latin, [[N] * 4] * 4) is False
    # columns only: every row is 1 2 3 4
    assert sudoku4([[1, 2, 3, 4]] * 4, [[N] * 4] * 4) is False
    # rows only: every column is 1 2 3 4
    assert sudoku4([[v] * 4 for v in (1, 2, 3, 4)], [[N] * 4] * 4) is False
    # the printed clue: a valid grid that changes the clue at (0, 0)
    relabel = {1: 2, 2: 1, 3: 3, 4: 4}
    swapped = [[relabel[v] for v in row] for row in S4]
    assert check_sudoku(swapped, {"base_matrix": [[N] * 4] * 4}) is True
    assert sudoku4(swapped) is False
    # 6x6: swapping columns 2 and 3 keeps rows and columns, breaks the 2x3 boxes
    cols_swapped = [row[:2] + [row[3], row[2]] + row[4:] for row in S6]
    assert sudoku6(cols_swapped, [[N] * 6] * 6) is False


def test_sudoku_values_official_vs_strict():
    # Official quirk: distinct symbols are enough, so 5..8 for 1..4 passes; strict refuses.
    shifted = [[v + 4 for v in row] for row in S4]
    info = {"base_matrix": [[N] * 4] * 4}
    assert check_sudoku(shifted, info) is True
    assert check_sudoku(shifted, info, strict=True) is False


@pytest.mark.parametrize(
    "grid",
    [None, [], "[[1]]", [[1, 2, 3, 4]] * 3, [row[:3] for row in S4], S6, [[1, 2, 3, 4], 5, 6, 7]],
)
def test_sudoku_malformed(grid):
    assert check_sudoku(grid, {"base_matrix": B4}) is False
    with pytest.raises(RuleInputError, match="response"):
        sudoku4(grid)


def test_sudoku_bad_special_info():
    for info in (None, {}, {"base_matrix": [[N] * 5] * 5}, {"base_matrix": "x"}):
        assert check_sudoku(S4, info) is False
    verdict = judge_rule("calculate_answer_function_sudoku_4", S4, None, {"base": B4})
    assert verdict.correct is False and "base_matrix" in verdict.reason


# --- skyscraper ---------------------------------------------------------------------------

# Cyclic grid; columns equal rows, so top = left and bottom = right.
# Seen from the left: row 1 2 3 4 -> 4, 2 3 4 1 -> 3, 3 4 1 2 -> 2, 4 1 2 3 -> 1.
# Seen from the right: 4 3 2 1 -> 1, 1 4 3 2 -> 2, 2 1 4 3 -> 2, 3 2 1 4 -> 2.
SKY = [[1, 2, 3, 4], [2, 3, 4, 1], [3, 4, 1, 2], [4, 1, 2, 3]]
SKY_INFO = {
    "base_matrix": [[N, N, N, N], [N, 3, N, N], [N] * 4, [N] * 4],
    "visible_skyscrapers": [[4, 3, 2, 1], [4, 3, 2, 1], [1, 2, 2, 2], [1, 2, 2, 2]],
}


def sky(grid, info=SKY_INFO):
    return RULES.get("calculate_answer_function_skyscraper")(grid, None, info)


def test_skyscraper_solution_and_missing_clues():
    assert sky(SKY) is True and check_skyscraper(SKY, SKY_INFO, strict=True) is True
    sparse = copy.deepcopy(SKY_INFO)
    sparse["visible_skyscrapers"] = [[4, N, N, N], [N, N, 2, N], [N] * 4, [N, N, N, 2]]
    assert sky(SKY, sparse) is True


@pytest.mark.parametrize("side", range(4))
def test_skyscraper_each_side_is_checked(side):
    info = copy.deepcopy(SKY_INFO)
    info["visible_skyscrapers"][side][1] += 1
    assert sky(SKY, info) is False


def test_skyscraper_rows_columns_and_clues():
    assert sky([[1, 2, 3, 4]] * 4, {**SKY_INFO, "base_matrix": [[N] * 4] * 4}) is False
    assert sky([[v] * 4 for v in (1, 2, 3, 4)], {**SKY_INFO, "base_matrix": [[N] * 4] * 4}) is False
    info = copy.deepcopy(SKY_INFO)
    info["base_matrix"][1][1] = 2  # the grid has 3 there
    assert sky(SKY, info) is False


def test_skyscraper_values_official_vs_strict():
    # Official quirk: only distinctness and the visibility counts: 10..40 for 1..4 passes.
    tall = [[10 * v for v in row] for row in SKY]
    info = {**SKY_INFO, "base_matrix": [[N] * 4] * 4}
    assert check_skyscraper(tall, info) is True
    assert check_skyscraper(tall, info, strict=True) is False


@pytest.mark.parametrize("grid", [None, [], [[1, 2, 3]] * 3, [[1, 2, 3, 4]] * 5, "SKY"])
def test_skyscraper_malformed(grid):
    assert check_skyscraper(grid, SKY_INFO) is False


def test_skyscraper_bad_special_info():
    assert check_skyscraper(SKY, {"base_matrix": SKY_INFO["base_matrix"]}) is False
    bad = {**SKY_INFO, "visible_skyscrapers": [[4, 3, 2, 1]] * 3}
    with pytest.raises(RuleInputError, match="visible_skyscrapers"):
        sky(SKY, bad)


# --- yin-yang -----------------------------------------------------------------------------

# A comb: row 0 and columns 0/2/4 are 0, columns 1/3/5 and row 5 are 1; both colours connect
# through their spine row and no 2x2 square is one colour.
YY = [
    [0, 0, 0, 0, 0, 0],
    [0, 1, 0, 1, 0, 1],
    [0, 1, 0, 1, 0, 1],
    [0, 1, 0, 1, 0, 1],
    [0, 1, 0, 1, 0, 1],
    [1, 1, 1, 1, 1, 1],
]
YY_BASE = [[0, N, N, N, N, N], [N] * 6, [N] * 6, [N] * 6, [N] * 6, [N, N, N, N, N, 1]]


def yinyang(grid, base=YY_BASE):
    return RULES.get("calculate_answer_function_yinyang")(grid, None, {"base_matrix": base})


def with_cell(grid, r, c, v):
    out = [row[:] for row in grid]
    out[r][c] = v
    return out


def test_yinyang_solution():
    assert yinyang(YY) is True
    assert check_yinyang(YY, {"base_matrix": YY_BASE}, strict=True) is True


def test_yinyang_each_constraint():
    # connectivity: a 1 at (0, 1) cuts column 0's zeros off from the rest
    assert yinyang(with_cell(YY, 0, 1, 1)) is False
    # 2x2: a 1 at (4, 0) makes rows 4-5 x columns 0-1 all ones (both colours stay connected)
    assert yinyang(with_cell(YY, 4, 0, 1)) is False
    # the clue at (0, 0) is 0
    assert yinyang(YY, with_cell(YY_BASE, 0, 0, 1)) is False


def test_yinyang_other_values_official_vs_strict():
    # Official quirk: a cell that is neither 0 nor 1 is in neither region and is not refused.
    odd = with_cell(YY, 5, 0, 2)
    assert yinyang(odd) is True
    assert check_yinyang(odd, {"base_matrix": YY_BASE}, strict=True) is False


@pytest.mark.parametrize("grid", [None, [], [[0, 1]] * 2, [row[:5] for row in YY], 7])
def test_yinyang_malformed(grid):
    assert check_yinyang(grid, {"base_matrix": YY_BASE}) is False
    with pytest.raises(RuleInputError):
        yinyang(grid)
