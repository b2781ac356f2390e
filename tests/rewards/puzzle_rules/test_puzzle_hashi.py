"""Hashi: a solution, one break per official rule, the strict extras, malformed input."""

from __future__ import annotations

import pytest

from mmrft.rewards.puzzle_rules import RULES, RuleInputError, check_hashi, judge_rule


def islands(**need):
    return {"init_islands": [{"cord": c, "requirement": n} for c, n in need.items()]}


def bridge(start, end, number=1):
    return {"start": start, "end": end, "number": number}


# a1 =2= c1 -1- c3: a1 needs 2, c1 needs 3, c3 needs 1.
INFO = islands(a1=2, c1=3, c3=1)
SOLUTION = [bridge("a1", "c1", 2), bridge("c1", "c3", 1)]


def hashi(bridges, info=INFO):
    return RULES.get("calculate_answer_function_hashi")(bridges, None, info)


def test_solution():
    assert hashi(SOLUTION) is True
    assert check_hashi(SOLUTION, INFO, strict=True) is True
    # bridge direction does not matter
    assert hashi([bridge("c1", "a1", 2), bridge("c3", "c1", 1)]) is True


def test_each_official_rule():
    assert hashi([*SOLUTION, bridge("a1", "a1", 0)]) is False  # an island to itself
    assert hashi([bridge("a1", "e1", 2), bridge("c1", "c3", 1)]) is False  # e1 is no island
    info = islands(a1=1, c3=1)
    assert hashi([bridge("a1", "c3")], info) is False  # diagonal
    # three bridges between one pair (2 + 1), requirements raised so only rule 4 fails
    assert hashi([bridge("a1", "c1", 2), bridge("a1", "c1", 1)], islands(a1=3, c1=3)) is False
    assert hashi([bridge("a1", "c1", 1), bridge("c1", "c3", 1)]) is False  # a1 needs 2
    assert hashi([bridge("c1", "c3", 1)]) is False  # a1 has none
    # crossing: b1-b3 (vertical) and a2-c2 (horizontal) both pass over b2; every
    # requirement is met, only the crossing is wrong
    cross = islands(b1=1, b3=1, a2=1, c2=1)
    assert hashi([bridge("b1", "b3"), bridge("a2", "c2")], cross) is False


def test_official_quirks_and_strict():
    # Islands need not be connected officially (two separate pairs).
    pairs = islands(a1=1, c1=1, a3=1, c3=1)
    two = [bridge("a1", "c1"), bridge("a3", "c3")]
    assert hashi(two, pairs) is True
    assert check_hashi(two, pairs, strict=True) is False
    # A bridge may pass over an island officially (b1 needs nothing).
    over = islands(a1=1, b1=0, c1=1)
    assert hashi([bridge("a1", "c1")], over) is True
    assert check_hashi([bridge("a1", "c1")], over, strict=True) is False
    # strict: a bridge count must be 1 or 2 (officially 0 is fine)
    zero = [*SOLUTION, bridge("a1", "a3", 0)]
    zero_info = islands(a1=2, c1=3, c3=1, a3=0)
    assert check_hashi(zero, zero_info) is True
    assert check_hashi(zero, zero_info, strict=True) is False


def test_no_bridges_is_wrong():
    assert hashi([]) is False and hashi(None) is False


@pytest.mark.parametrize(
    "bridges",
    [
        {"start": "a1", "end": "c1", "number": 2},
        [["a1", "c1", 2]],
        [{"start": "a1", "end": "c1"}],
        [{"start": "a1", "end": "c1", "number": "2"}, bridge("c1", "c3")],
    ],
)
def test_malformed_bridges(bridges):
    assert check_hashi(bridges, INFO) is False
    verdict = judge_rule("calculate_answer_function_hashi", bridges, None, INFO)
    assert verdict.correct is False and verdict.reason


@pytest.mark.parametrize(
    "info",
    [None, {}, {"init_islands": "a1"}, {"init_islands": [{"cord": "a1"}]}, islands(**{"1a": 2})],
)
def test_malformed_special_info(info):
    assert check_hashi(SOLUTION, info) is False
    with pytest.raises(RuleInputError, match="special_info"):
        hashi(SOLUTION, info)
