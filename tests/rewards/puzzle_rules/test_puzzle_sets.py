"""Choice sets, key/value dicts, coordinates and one-of-several answers (official semantics)."""

from __future__ import annotations

import pytest

from mmrft.rewards.puzzle_rules import RULES, RuleInputError, judge_rule

choice = RULES.get("choice_function")
match = RULES.get("match_answer_function")
coords = RULES.get("match_coordinate_function")
multiple = RULES.get("multiple_match_function")


@pytest.mark.parametrize(
    "response, answer, expected",
    [
        ("A", "A", True),
        (" B ", "B", True),
        ("C, A", "['A', 'C']", True),  # a Python-literal list answer, any order
        ("A,C,A", "A, C", True),  # repeats collapse (sets)
        (["A", "C"], "['C', 'A']", True),  # an already-parsed response list
        ("1", "1", True),  # answer literal 1 -> "1"
        ("A", "B", False),
        ("A", "['A', 'C']", False),
        ("A, B", "['A']", False),
        ("a", "A", False),  # case-sensitive
        # Official quirk: "[A, C]" (the extraction prompt's own example form) is not a literal,
        # so it splits into "[A" and "C]" and misses the list answer.
        ("[A, C]", "['A', 'C']", False),
    ],
)
def test_choice_function(response, answer, expected):
    assert choice(response, answer, None) is expected
    assert judge_rule("choice_function", response, answer).correct is expected


def test_choice_missing_response():
    with pytest.raises(RuleInputError, match="response"):
        choice(None, "A", None)


def test_match_answer_function():
    gold = {"A": 5, "B": ["x", "y"]}
    assert match({"A": 5, "B": ["y", "x"]}, gold, None) is True  # lists as sets
    assert match({"A": 5.0, "B": ["x", "y", "x"], "Z": 1}, gold, None) is True  # 5 == 5.0, extra
    assert match({"A": 6, "B": ["x", "y"]}, gold, None) is False
    assert match({"A": 5, "B": ["x"]}, gold, None) is False
    assert match({"A": 5}, gold, None) is False  # missing key reads as None
    assert match({"1": "a"}, {"1": "A"}, None) is False  # case-sensitive
    assert match({}, {"A": None}, None) is True  # official: a missing key *is* None
    with pytest.raises(RuleInputError, match="response"):
        match([5], gold, None)


def cell(row, column):
    return {"row": row, "column": column}


def test_match_coordinate_function():
    assert coords([cell("A", 1)], cell("A", 1), None) is True  # one-cell gold as a dict
    assert coords([cell("A", 1), cell("B", 3)], [cell("A", 1), cell("B", 3)], None) is True
    assert coords([cell("B", 3), cell("A", 1)], [cell("A", 1), cell("B", 3)], None) is False
    assert coords([cell("A", 2)], [cell("A", 1)], None) is False
    assert coords([cell("A", 1)], [cell("A", 1), cell("B", 3)], None) is False
    # Official quirk: a cell is str(row) + str(column), so (1, 12) equals (11, 2) and row 1
    # differs from row 1.0.
    assert coords([cell(1, 12)], [cell(11, 2)], None) is True
    assert coords([cell(1.0, 2)], [cell(1, 2)], None) is False


@pytest.mark.parametrize("response", [cell("A", 1), [{"row": "A"}], ["A1"], "A1"])
def test_match_coordinate_malformed(response):
    with pytest.raises(RuleInputError, match="response"):
        coords(response, [cell("A", 1)], None)


def test_multiple_match_function():
    gold = [["A", "C"], ["B", "D"]]
    assert multiple({"id": ["C", "A"]}, gold, None) is True
    assert multiple({"id": ["D", "B", "B"]}, gold, None) is True
    assert multiple({"id": ["A", "B"]}, gold, None) is False
    assert multiple({"id": ["A"]}, gold, None) is False
    assert multiple({"x": 3}, [1, 2, 3], None) is True  # scalar membership
    assert multiple({"x": 4}, [1, 2, 3], None) is False
    # Official quirk: with a list response every gold answer becomes a set, strings included.
    assert multiple({"id": ["b", "a"]}, ["ab"], None) is True


@pytest.mark.parametrize("response", [{}, {"a": 1, "b": 2}, [["A"]], "A"])
def test_multiple_match_needs_one_key(response):
    with pytest.raises(RuleInputError, match="exactly one key"):
        multiple(response, [["A"]], None)


def test_multiple_match_needs_a_list_answer():
    with pytest.raises(RuleInputError, match="answer"):
        multiple({"id": 1}, 1, None)
