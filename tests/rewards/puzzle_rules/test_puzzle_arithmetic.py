"""The twelve arithmetic-constraint puzzles and check_magic_sum, on hand-checked assignments.

Each solution below was found once by a small search and is re-checked by the sums written in
the comments; the tests then break one constraint kind at a time.
"""

from __future__ import annotations

import pytest

from mmrft.rewards.puzzle_rules import RULES, RuleInputError, check_magic_sum, judge_rule

# Puzzle 3: diamonds ADEH 8+9+12+1, CEGH 6+12+11+1, IGJH 3+11+15+1, NMJH 4+10+15+1,
# OMHL 5+10+1+14, KLHF 2+14+1+13, BFHD 7+13+1+9 -> all 30; values 1..15 once each.
P3 = dict(A=8, B=7, C=6, D=9, E=12, F=13, G=11, H=1, I=3, J=15, K=2, L=14, M=10, N=4, O=5)
# Puzzle 4: ABED 9+2+5+4, BCEF 2+7+5+6, DEGH 4+5+3+8, EFHI 5+6+8+1, BDHF 2+4+8+6,
# ACIG 9+7+1+3 -> all 20; values 1..9.
P4 = dict(A=9, B=2, C=7, D=4, E=5, F=6, G=3, H=8, I=1)
# Puzzle 5: coins 20 x5 (B C G O Q), 15 x3 (A K P), 10 x3 (J M N), 5 x6 (D E F H I L);
# ABC 15+20+20, AGO 15+20+20, OPQ 20+15+20, CKQ 20+15+20, ADINQ 15+5+5+10+20,
# CFILO 20+5+5+5+20, BEIMP 20+5+5+10+15, GHIJK 20+5+5+10+15 -> all 55.
P5 = dict(
    A=15, B=20, C=20, D=5, E=5, F=5, G=20, H=5, I=5, J=10, K=15, L=5, M=10, N=10, O=20, P=15, Q=20
)
# Puzzle 6: J = 10 and the nine pairs through it each sum to 20 (1+19, 2+18, ..., 9+11).
P6 = dict(
    J=10,
    A=1,
    S=19,
    C=2,
    Q=18,
    E=3,
    O=17,
    G=4,
    M=16,
    I=5,
    K=15,
    L=6,
    H=14,
    N=7,
    F=13,
    P=8,
    D=12,
    R=9,
    B=11,
)
# Puzzle 7: ACFH 1+4+10+11, ADGK 1+12+6+7, BCDE 2+4+12+8, HIJK 11+5+3+7, BFIL 2+10+5+9,
# EGJL 8+6+3+9 -> all 26; values 1..12.
P7 = dict(A=1, B=2, C=4, D=12, E=8, F=10, G=6, H=11, I=5, J=3, K=7, L=9)
# Puzzle 9: ABC 1+18+3, ADH 1+14+7, AEJ 1+19+2, CFJ 3+17+2, CGL 3+15+4, HIJ 7+13+2,
# HMQ 7+6+9, JKL 2+16+4, JNQ 2+11+9, JOS 2+12+8, LPS 4+10+8, QRS 9+5+8 -> all 22.
P9 = dict(
    A=1,
    B=18,
    C=3,
    D=14,
    E=19,
    F=17,
    G=15,
    H=7,
    I=13,
    J=2,
    K=16,
    L=4,
    M=6,
    N=11,
    O=12,
    P=10,
    Q=9,
    R=5,
    S=8,
)
# Puzzle 10: sides ABD 1+4+5, DEF 5+2+3, ACF 1+6+3 -> all 10; values 1..6.
P10 = dict(A=1, B=4, C=6, D=5, E=2, F=3)
# Puzzle 12: CAT + DOG = 239 + 857 = 1096 = PETS.
P12 = dict(C=2, A=3, T=9, D=8, O=5, G=7, P=1, E=0, S=6)

SOLVED = {3: P3, 4: P4, 5: P5, 6: P6, 7: P7, 9: P9, 10: P10, 12: P12}


def rule(n: int):
    return RULES.get(f"calculate_answer_function_{n}")


@pytest.mark.parametrize("n", sorted(SOLVED))
def test_solutions_are_accepted(n):
    assert rule(n)(dict(SOLVED[n]), None, None) is True


@pytest.mark.parametrize("n", sorted(SOLVED))
def test_a_missing_cell_fails(n):
    cells = dict(SOLVED[n])
    cells.pop(sorted(cells)[0])
    assert rule(n)(cells, None, None) is False


@pytest.mark.parametrize(
    "n, a, b",
    [(3, "A", "B"), (4, "A", "I"), (6, "A", "C"), (7, "A", "B"), (9, "A", "B"), (10, "A", "B")],
)
def test_swapping_two_cells_keeps_the_values_but_breaks_a_line(n, a, b):
    cells = dict(SOLVED[n])
    cells[a], cells[b] = cells[b], cells[a]
    assert rule(n)(cells, None, None) is False


@pytest.mark.parametrize("n", [3, 4, 6, 7, 9, 10])
def test_value_set_counts_extra_keys_official(n):
    # Official quirk: the value set is taken over *all* response values, so an extra key with a
    # new value fails even though every line still holds.
    assert rule(n)({**SOLVED[n], "Z": 99}, None, None) is False
    # ... and an extra key repeating a used value passes.
    assert rule(n)({**SOLVED[n], "Z": SOLVED[n]["A"]}, None, None) is True


def test_puzzle_10_value_set_alone():
    # Every side 1+1+1 = 3 (equal), but the values are not 1..6.
    assert rule(10)(dict.fromkeys("ABCDEF", 1), None, None) is False


def test_puzzle_1_ratios():
    assert rule(1)({"A": 6, "B": 2, "C": 4}, None, None) is True  # 6/2 = 3, 4/2 = 2
    assert rule(1)({"A": 1.5, "B": 0.5, "C": 1.0}, None, None) is True
    assert rule(1)({"A": 6, "B": 2, "C": 5}, None, None) is False
    assert rule(1)({"A": 4, "B": 2, "C": 4}, None, None) is False
    assert rule(1)({"A": 0, "B": 0, "C": 0}, None, None) is False  # 0/0: official except -> False
    assert rule(1)({"A": "6", "B": 2, "C": 4}, None, None) is False
    assert rule(1)({"A": 6, "B": 2}, None, None) is False


def test_puzzle_2_three_lines():
    good = dict(A=10, B=10, C=5, D=5, E=10, F=10)  # ABC 25, CEF 25, ADF 25
    assert rule(2)(good, None, None) is True
    for key, line in (("B", "ABC"), ("E", "CEF"), ("D", "ADF")):
        assert rule(2)({**good, key: good[key] + 1}, None, None) is False, line
    # No distinctness rule: 25/3 cannot repeat evenly, but repeated values are allowed.
    assert rule(2)(dict(A=5, B=10, C=10, D=10, E=5, F=10), None, None) is True


def test_puzzle_5_coins():
    assert rule(5)({**P5, "A": 25}, None, None) is False  # not a coin
    # Every line sums to 55 here, but 15 is used six times (three available).
    over = dict(
        A=20,
        B=15,
        C=20,
        D=5,
        E=15,
        F=5,
        G=15,
        H=15,
        I=5,
        J=5,
        K=15,
        L=5,
        M=5,
        N=5,
        O=20,
        P=15,
        Q=20,
    )
    assert sum(over[k] for k in "ADINQ") == 55 and list(over.values()).count(15) == 6
    assert rule(5)(over, None, None) is False
    swapped = {**P5, "A": P5["D"], "D": P5["A"]}  # same coins, ABC = 5 + 20 + 20
    assert rule(5)(swapped, None, None) is False


def test_puzzle_8_is_unsatisfiable_officially():
    # Lines BDE and BEH force D = H, but the official check wants 13 distinct values, so no
    # response can pass: every model scores 0 on these questions in the official code too.
    lines_ok = dict(A=11, B=1, C=8, D=11, E=8, F=2, G=6, H=11, I=6, J=3, K=7, L=12, M=1)
    for line in ("ABC", "AFK", "BDE", "BEH", "CHM", "DGJ", "EGI", "FIL", "HJI", "KLM"):
        assert sum(lines_ok[k] for k in line) == 20
    assert rule(8)(lines_ok, None, None) is False
    assert rule(8)({**lines_ok, "A": 0}, None, None) is False  # out of [1, 15]


def test_puzzle_11_is_unsatisfiable_officially():
    # E + G = 13 and the value set {1,2,3,5,7,8} leave no room for both 1 and 2 (worked out in
    # the rule's docstring); here every line holds but the value set is {3,5,7,8}.
    lines_ok = dict(A=3, B=5, C=7, D=7, E=5, F=7, G=8)
    assert lines_ok["A"] + lines_ok["C"] + 9 == 19 and lines_ok["E"] + lines_ok["G"] + 6 == 19
    assert rule(11)(lines_ok, None, None) is False
    # right value set, wrong sums
    assert rule(11)(dict(A=1, B=2, C=3, D=5, E=7, F=8, G=8), None, None) is False


def test_puzzle_12_sum_only():
    assert rule(12)({**P12, "S": 7}, None, None) is False  # 239 + 857 != 1097
    # Official quirk: only the sum is checked, so all zeros passes (0 + 0 = 0).
    assert rule(12)(dict.fromkeys("CATDOGPES", 0), None, None) is True


@pytest.mark.parametrize("n", range(1, 13))
def test_a_non_object_response_is_malformed(n):
    with pytest.raises(RuleInputError, match="response"):
        rule(n)([1, 2, 3], None, None)


def test_non_numeric_values_give_a_reason_through_judge_rule():
    # Puzzle 2 has no value-set check, so the text reaches the sum (official: a crash).
    verdict = judge_rule("calculate_answer_function_2", dict.fromkeys("ABCDEF", "x"), None)
    assert verdict.correct is False and "TypeError" in verdict.reason
    # Puzzle 3 compares the value set first: "8" is not 8, so it is a plain wrong answer.
    assert judge_rule("calculate_answer_function_3", {**P3, "A": "8"}, None).reason is None


# --- check_magic_sum --------------------------------------------------------------------

# The 3x3 magic square 2 7 6 / 9 5 1 / 4 3 8: rows, columns and diagonals all sum to 15.
SQUARE = {"A": 2, "B": 7, "C": 6, "D": 9, "E": 5, "F": 1, "G": 4, "H": 3, "I": 8}
LINES = [list(s) for s in ("ABC", "DEF", "GHI", "ADG", "BEH", "CFI", "AEI", "CEG")]
INFO = {"lines": LINES, "target": 15, "values": list(range(1, 10)), "given": {"E": 5}}


def test_magic_sum_accepts_the_lo_shu_square():
    assert check_magic_sum(SQUARE, INFO) is True
    assert check_magic_sum(SQUARE, {"lines": LINES}) is True  # target omitted: sums equal


def test_magic_sum_breaks():
    swapped = {**SQUARE, "A": 7, "B": 2}  # same values, row ABC still 15, column ADG 20
    assert check_magic_sum(swapped, INFO) is False
    assert check_magic_sum(SQUARE, {**INFO, "target": 16}) is False
    assert check_magic_sum(SQUARE, {**INFO, "given": {"E": 4}}) is False
    assert check_magic_sum(SQUARE, {**INFO, "values": [1, 2, 3, 4, 5, 6, 7, 8, 10]}) is False
    # all fives: every line 15, but the values are not 1..9
    assert check_magic_sum(dict.fromkeys(SQUARE, 5), INFO) is False
    assert check_magic_sum(dict.fromkeys(SQUARE, 5), {"lines": LINES, "target": 15}) is True


@pytest.mark.parametrize(
    "assignment, info",
    [
        (None, INFO),
        ([2, 7, 6], INFO),
        ({k: v for k, v in SQUARE.items() if k != "I"}, INFO),
        ({**SQUARE, "A": "2"}, INFO),
        ({**SQUARE, "A": True}, {"lines": [["A"]], "target": 1}),
        (SQUARE, None),
        (SQUARE, {"lines": "ABC"}),
        (SQUARE, {"lines": []}),
        (SQUARE, {"lines": [[]]}),
        (SQUARE, {**INFO, "values": "123"}),
    ],
)
def test_magic_sum_malformed_is_false(assignment, info):
    assert check_magic_sum(assignment, info) is False
