"""The puzzle_* rewards on hand-made instances: each rule broken once, malformed text never raises."""

import json

import pytest

from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS, safe_reward


def sample(info):
    return Sample(id="x", prompt="", answer="", meta={"special_info": info})


def accuracy(name, answers, info):
    """Accuracy of ``answers`` (objects are written as JSON) in well-formed completions."""
    texts = [a if isinstance(a, str) else json.dumps(a) for a in answers]
    completions = [f"<think>.</think><answer>{t}</answer>" for t in texts]
    scores = REWARDS.get(name)(completions, [sample(info)] * len(completions))
    return scores["accuracy"]


# A 4x4 sudoku solved by hand. Clues (. = blank), boxes 2x2:
#   1 . | . .
#   . . | 2 .
#   ----+----
#   . 1 | . 4
#   . 4 | 1 .
# Bottom-left box holds 1, 4 -> (3,1), (4,1) in {2, 3}; bottom-right holds 4, 1 -> (3,3), (4,4)
# in {2, 3}; column 3 has a 2 -> (3,3) = 3, so (3,1) = 2, (4,1) = 3, (4,4) = 2. Column 1 then
# lacks 4 -> (2,1) = 4; column 3 lacks 4 -> (1,3) = 4. Row 1 lacks 2, 3 and column 4 (4, 2)
# lacks 1, 3 -> (1,4) = 3, (1,2) = 2, (2,2) = 3, (2,4) = 1. (A brute force over all Latin
# squares finds this one grid alone, boxes aside.)
SUDOKU_BASE = [[1, None, None, None], [None, None, 2, None], [None, 1, None, 4], [None, 4, 1, None]]
SUDOKU_SOLVED = [[1, 2, 4, 3], [4, 3, 2, 1], [2, 1, 3, 4], [3, 4, 1, 2]]


def test_sudoku_rules_each_broken_once():
    info = {"base_matrix": SUDOKU_BASE}
    swap_rows = [SUDOKU_SOLVED[1], SUDOKU_SOLVED[0], *SUDOKU_SOLVED[2:]]  # valid, clues moved
    repeat_in_row = [[1, 2, 4, 4], *SUDOKU_SOLVED[1:]]  # a row (and a column) repeats
    wrong_shape = [row[:3] for row in SUDOKU_SOLVED]
    got = accuracy("puzzle_sudoku", [SUDOKU_SOLVED, swap_rows, repeat_in_row, wrong_shape], info)
    assert got == [1.0, 0.0, 0.0, 0.0]
    empty = {"base_matrix": [[None] * 4 for _ in range(4)]}
    no_boxes = [
        [1, 2, 3, 4],
        [2, 1, 4, 3],
        [3, 4, 1, 2],
        [4, 3, 2, 1],
    ]  # Latin; top-left box 1,2,2,1
    shifted = [[v + 1 for v in row] for row in SUDOKU_SOLVED]  # every rule but the 1..4 range
    assert accuracy("puzzle_sudoku", [SUDOKU_SOLVED, no_boxes, shifted], empty) == [1.0, 0.0, 0.0]


def test_sudoku_six_by_six_boxes_are_two_rows_by_three_columns():
    grid = [
        [1, 2, 3, 4, 5, 6],
        [4, 5, 6, 1, 2, 3],
        [2, 3, 1, 5, 6, 4],
        [5, 6, 4, 2, 3, 1],
        [3, 1, 2, 6, 4, 5],
        [6, 4, 5, 3, 1, 2],
    ]
    info = {"base_matrix": [[None] * 6 for _ in range(6)]}
    transposed = [list(c) for c in zip(*grid, strict=True)]  # a Latin square, 3x2 boxes only
    assert accuracy("puzzle_sudoku", [grid, transposed], info) == [1.0, 0.0]


def test_skyscraper_rules_each_broken_once():
    # Hand check of [[1,2,3],[2,3,1],[3,1,2]]: top looks down columns 1 2 3 / 2 3 1 / 3 1 2 ->
    # 3, 2, 1 seen; left along rows -> 3, 2, 1; right (reversed rows 3 2 1 / 1 3 2 / 2 1 3) ->
    # 1, 2, 2; bottom (reversed columns 3 2 1 / 1 3 2 / 2 1 3) -> 1, 2, 2.
    good = [[1, 2, 3], [2, 3, 1], [3, 1, 2]]
    info = {
        "base_matrix": [[None] * 3] * 3,
        "visible_skyscrapers": [[3, 2, 1], [3, 2, 1], [1, 2, 2], [1, 2, 2]],
    }
    other_latin = [[1, 3, 2], [2, 1, 3], [3, 2, 1]]  # Latin, but row 1 shows 2 from the left
    not_latin = [[1, 2, 3], [2, 3, 1], [3, 2, 1]]  # column 2 repeats 2
    with_given = dict(info, base_matrix=[[None, None, None], [None, None, None], [None, None, 1]])
    assert accuracy("puzzle_skyscraper", [good, other_latin, not_latin], info) == [1.0, 0.0, 0.0]
    assert accuracy("puzzle_skyscraper", [good], with_given) == [0.0]  # given 1 at (3,3) changed


def hashi_info(bridges):
    need = {}
    for b in bridges:
        for end in (b["start"], b["end"]):
            need[end] = need.get(end, 0) + b["number"]
    return {"init_islands": [{"cord": c, "requirement": k} for c, k in sorted(need.items())]}


def test_hashi_rules_each_broken_once():
    # A ring of four islands on a 3x3 board: a1 =2= c1, c1 -1- c3, c3 =2= a3, a3 -1- a1.
    # Requirements: a1 = 2 + 1 = 3, c1 = 2 + 1 = 3, c3 = 1 + 2 = 3, a3 = 2 + 1 = 3.
    ring = [
        {"start": "a1", "end": "c1", "number": 2},
        {"start": "c1", "end": "c3", "number": 1},
        {"start": "c3", "end": "a3", "number": 2},
        {"start": "a3", "end": "a1", "number": 1},
    ]
    info = hashi_info(ring)
    assert [i["requirement"] for i in info["init_islands"]] == [3, 3, 3, 3]
    wrong_count = [dict(ring[0], number=1), *ring[1:]]
    three = [*ring, {"start": "a1", "end": "c1", "number": 1}]  # a pair with 3 bridges
    diagonal = [*ring[:3], {"start": "a3", "end": "c1", "number": 1}]
    unknown = [*ring[:3], {"start": "a3", "end": "z9", "number": 1}]
    assert accuracy("puzzle_hashi", [ring, wrong_count, three, diagonal, unknown], info) == [
        1.0,
        0.0,
        0.0,
        0.0,
        0.0,
    ]
    # Crossing: b1-b3 and a2-c2 cross at b2 (each island's count met).
    cross = [{"start": "b1", "end": "b3", "number": 1}, {"start": "a2", "end": "c2", "number": 1}]
    # Over an island: a1-a3 passes over a2 (a2 joined to c2 so its count is met).
    over = [{"start": "a1", "end": "a3", "number": 1}, {"start": "a2", "end": "c2", "number": 1}]
    # Two groups: a1-c1 and a3-c3, each fine on its own.
    apart = [{"start": "a1", "end": "c1", "number": 1}, {"start": "a3", "end": "c3", "number": 1}]
    for bridges in (cross, over, apart):
        assert accuracy("puzzle_hashi", [bridges], hashi_info(bridges)) == [0.0]
    assert accuracy("puzzle_hashi", [[ring[0]]], hashi_info([ring[0]])) == [1.0]


def test_points24():
    info = {"init_cards": [3, 3, 8, 8]}
    answers = [
        "8/(3-8/3)",  # 8 / (1/3) = 24 exactly (the official float check says 23.99...)
        "8/(3-8/3) = 24",
        "8*3",  # 24, but two cards unused
        "8*3+8-3",  # uses all cards, makes 29
        "(8+8)*3/3*1",  # makes 16 and adds a card
        "__import__('os').system('true')",  # not arithmetic: refused, nothing runs
        "",
    ]
    assert accuracy("puzzle_points24", answers, info) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert accuracy("puzzle_points24", ["(10-4)*(5-1)"], {"init_cards": [1, 4, 5, 10]}) == [1.0]


def test_magic_sum():
    # Lo Shu: 4 9 2 / 3 5 7 / 8 1 6, every line 15. Blanks A (4), E (5), I (6).
    lines = [list(s) for s in ("ABC", "DEF", "GHI", "ADG", "BEH", "CFI", "AEI", "CEG")]
    given = {"B": 9, "C": 2, "D": 3, "F": 7, "G": 8, "H": 1}
    info = {"lines": lines, "target": 15, "given": given, "values": list(range(1, 10))}
    answers = [
        {"A": 4, "E": 5, "I": 6},
        {"A": 4, "E": 5, "I": 6, "B": 9},  # restating a given is fine
        {"A": 4, "E": 5, "I": 6, "B": 8},  # changing a given is not
        {"A": 6, "E": 5, "I": 4},  # values 1..9 but the A-E-I diagonal is fine, rows are not
        {"A": 4, "E": 5},  # a blank missing
        {"A": "4", "E": 5, "I": 6},  # a string is not a number
        [4, 5, 6],
    ]
    assert accuracy("puzzle_magic_sum", answers, info) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]


MALFORMED = [
    "",
    "no answer block",
    "<answer>",
    "<answer></answer>",
    "<answer>[[1, 2], [3</answer>",
    "<answer>null</answer>",
    "<answer>" + "[" * 5000 + "</answer>",
    "<answer>" + "1" * 10_000 + "</answer>",
    "<answer>[[1, 2, 3, 4], [1, 2, 3, 4], [1, 2], 7]</answer>",
    '<answer>{"start": "a1"}</answer>',
    '<answer>[{"start": 1, "end": [2], "number": "x"}]</answer>',
    "<answer>9**9**9**9</answer>",
    "<answer>1/0+24</answer>",
]


@pytest.mark.parametrize(
    "name",
    ["puzzle_sudoku", "puzzle_skyscraper", "puzzle_hashi", "puzzle_points24", "puzzle_magic_sum"],
)
def test_malformed_completions_score_zero_without_raising(name):
    infos = {
        "puzzle_sudoku": {"base_matrix": SUDOKU_BASE},
        "puzzle_skyscraper": {
            "base_matrix": [[None] * 3] * 3,
            "visible_skyscrapers": [[None] * 3] * 4,
        },
        "puzzle_hashi": hashi_info([{"start": "a1", "end": "c1", "number": 2}]),
        "puzzle_points24": {"init_cards": [3, 3, 8, 8]},
        "puzzle_magic_sum": {"lines": [["A", "B"]], "target": 3},
    }
    samples = [sample(infos[name])] * len(MALFORMED)
    scores = REWARDS.get(name)(MALFORMED, samples)
    assert max(scores["accuracy"]) == 0.0
    _, failed = safe_reward(REWARDS.get(name), MALFORMED, samples)
    assert failed == 0  # nothing raised
    bare = Sample(id="y", prompt="", answer="")  # a sample without special_info scores 0
    assert REWARDS.get(name)(["<answer>[[1]]</answer>"], [bare])["accuracy"] == [0.0]


def test_components_and_weights():
    info = {"base_matrix": SUDOKU_BASE}
    good = json.dumps(SUDOKU_SOLVED)
    scores = REWARDS.get("puzzle_sudoku")(
        [
            f"<answer>{good}</answer>",
            f"```\n{good}\n``` <answer>{good}</answer>",
            "<answer>[1]</answer>",
        ],
        [sample(info)] * 3,
    )
    # well formed and right -> 1.0; right but text outside the blocks -> 0.9; parsed, wrong -> 0.1
    assert scores == {
        "overall": [1.0, 0.9, 0.1],
        "format": [1.0, 0.0, 1.0],
        "accuracy": [1.0, 1.0, 0.0],
        "parsed": [1.0, 1.0, 1.0],
    }
    fenced = f"<answer>```json\n{good}\n```</answer>"
    assert REWARDS.get("puzzle_sudoku")([fenced], [sample(info)])["accuracy"] == [1.0]
