"""The twelve arithmetic-constraint puzzles (``calculate_answer_function_1`` .. ``_12``) and a
general magic-sum check for the practice tasks.

Each official puzzle is one fixed figure: lettered cells whose numbers must satisfy line sums,
ratios or a cryptarithm. The response is the extracted ``{"A": 5, "B": 1, ...}`` object. The
figure's data (lines, targets, value sets) is written out as tables here, so each function reads
as its rule; the checks keep the official semantics exactly:

* a missing required key fails; extra keys are allowed but their values still count wherever
  the official code looks at *all* values (the value-set checks of puzzles 3-11);
* "uses the numbers 1..n" means the *set* of values equals {1..n} (official), which with the
  exact key set means each number once;
* values compare with Python arithmetic, so ``5.0`` counts as ``5``.

The official code sums without a ``try`` (except puzzle 1), so a non-numeric value raises there;
here it raises ``TypeError`` too and ``judge_rule`` reports it as a failed verdict.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from numbers import Number
from typing import Any

from mmrft.rewards.puzzle_rules.rules import RULES, RuleInputError


def _cells(response: Any, keys: str) -> Mapping[str, Any] | None:
    """The response as a mapping if it has every key in ``keys`` (one letter each), else None."""
    if not isinstance(response, Mapping):
        raise RuleInputError(f"response: expected a JSON object, got {type(response).__name__}")
    return response if all(k in response for k in keys) else None


def _lines_sum_to(cells: Mapping[str, Any], lines: Iterable[str], target: float) -> bool:
    return all(sum(cells[k] for k in line) == target for line in lines)


def _value_set_is(cells: Mapping[str, Any], values: Iterable[int]) -> bool:
    # Official: the set of *all* response values (extra keys included) equals the given set.
    return set(cells.values()) == set(values)


@RULES.register("calculate_answer_function_1")
def calculate_answer_function_1(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """A = 3·B and C = 2·B, checked as the official float ratios A/B == 3 and C/B == 2.

    Official quirk: any error (B = 0, a string) is a plain ``False``.

    >>> calculate_answer_function_1({"A": 6, "B": 2, "C": 4}), calculate_answer_function_1({"A": 6, "B": 0, "C": 0})
    (True, False)
    """
    cells = _cells(response, "ABC")
    if cells is None:
        return False
    try:
        return cells["A"] / cells["B"] == 3 and cells["C"] / cells["B"] == 2
    except Exception:  # official: bare except -> False
        return False


@RULES.register("calculate_answer_function_2")
def calculate_answer_function_2(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """Lines A+B+C, C+E+F and A+D+F each sum to 25 (no value-set or distinctness check)."""
    cells = _cells(response, "ABCDEF")
    return cells is not None and _lines_sum_to(cells, ["ABC", "CEF", "ADF"], 25)


def _set_and_lines(keys: str, values: range, lines: list[str], target: int):
    def rule(response: Any, answer: Any = None, special_info: Any = None) -> bool:
        cells = _cells(response, keys)
        return (
            cells is not None
            and _value_set_is(cells, values)
            and _lines_sum_to(cells, lines, target)
        )

    rule.__doc__ = (
        f"Cells {keys} use exactly the numbers {values.start}..{values.stop - 1}; "
        f"each of the lines {lines} sums to {target}."
    )
    return rule


# Puzzle 3: seven diamonds around the centre H, each summing to 30, numbers 1..15.
calculate_answer_function_3 = RULES.register("calculate_answer_function_3")(
    _set_and_lines(
        "ABCDEFGHIJKLMNO",
        range(1, 16),
        ["ADEH", "CEGH", "IGJH", "NMJH", "OMHL", "KLHF", "BFHD"],
        30,
    )
)
# Puzzle 4: a 3x3 figure of four squares, a diamond and the corners, each summing to 20.
calculate_answer_function_4 = RULES.register("calculate_answer_function_4")(
    _set_and_lines("ABCDEFGHI", range(1, 10), ["ABED", "BCEF", "DEGH", "EFHI", "BDHF", "ACIG"], 20)
)
# Puzzle 6: nine lines of three through the centre J, each summing to 30, numbers 1..19.
calculate_answer_function_6 = RULES.register("calculate_answer_function_6")(
    _set_and_lines(
        "ABCDEFGHIJKLMNOPQRS",
        range(1, 20),
        ["AJS", "CJQ", "EJO", "GJM", "IJK", "LJH", "NJF", "PJD", "RJB"],
        30,
    )
)
# Puzzle 7: a six-line star of four cells each, each summing to 26, numbers 1..12.
calculate_answer_function_7 = RULES.register("calculate_answer_function_7")(
    _set_and_lines(
        "ABCDEFGHIJKL", range(1, 13), ["ACFH", "ADGK", "BCDE", "HIJK", "BFIL", "EGJL"], 26
    )
)
# Puzzle 9: twelve lines of three, each summing to 22, numbers 1..19.
calculate_answer_function_9 = RULES.register("calculate_answer_function_9")(
    _set_and_lines(
        "ABCDEFGHIJKLMNOPQRS",
        range(1, 20),
        ["ABC", "ADH", "AEJ", "CFJ", "CGL", "HIJ", "HMQ", "JKL", "JNQ", "JOS", "LPS", "QRS"],
        22,
    )
)

_COINS_5 = {20: 5, 15: 3, 10: 3, 5: 6}
"""Puzzle 5's coins: value -> how many are available (17 coins for 17 cells)."""


@RULES.register("calculate_answer_function_5")
def calculate_answer_function_5(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """Coins 20/15/10/5 (at most 5/3/3/6 of each) on cells A..Q; eight lines each sum to 55."""
    cells = _cells(response, "ABCDEFGHIJKLMNOPQ")
    if cells is None:
        return False
    values = list(cells.values())
    if any(v not in _COINS_5 for v in values):
        return False
    used = Counter(values)
    if any(used[coin] > limit for coin, limit in _COINS_5.items()):
        return False
    lines = ["ABC", "AGO", "OPQ", "CKQ", "ADINQ", "CFILO", "BEIMP", "GHIJK"]
    return _lines_sum_to(cells, lines, 55)


@RULES.register("calculate_answer_function_8")
def calculate_answer_function_8(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """Cells A..M hold distinct numbers in [1, 15]; ten lines of three each sum to 20.

    Official quirk: the range check is ``1 <= v <= 15`` on any number, so non-integers pass it.
    Official data quirk: lines B+D+E and B+E+H both sum to 20, forcing D = H, which the
    distinctness check forbids; so no response passes (kept: it is the official score).
    """
    cells = _cells(response, "ABCDEFGHIJKLM")
    if cells is None:
        return False
    values = list(cells.values())
    if any(v < 1 or v > 15 for v in values) or len(values) != len(set(values)):
        return False
    lines = ["ABC", "AFK", "BDE", "BEH", "CHM", "DGJ", "EGI", "FIL", "HJI", "KLM"]
    return _lines_sum_to(cells, lines, 20)


@RULES.register("calculate_answer_function_10")
def calculate_answer_function_10(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """Cells A..F use 1..6; the triangle's sides A+B+D, D+E+F and A+C+F are equal."""
    cells = _cells(response, "ABCDEF")
    if cells is None or not _value_set_is(cells, range(1, 7)):
        return False
    sides = [sum(cells[k] for k in side) for side in ("ABD", "DEF", "ACF")]
    return sides[0] == sides[1] == sides[2]


@RULES.register("calculate_answer_function_11")
def calculate_answer_function_11(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """Cells A..G take the values {1,2,3,5,7,8}; four lines (two with a printed 9 and 6) sum to 19.

    Official quirk: seven cells but six values, compared as sets, so exactly one value repeats.
    Official data quirk: no assignment passes. E + G = 13 needs {E, G} = {5, 8}. E = 5 gives
    D + F = 14, so D = F = 7 (the one repeat), leaving A, B, C = 1, 2, 3 with A + C = 10:
    impossible. E = 8 gives D + F = 11 = 3 + 8, so 8 repeats and A, B, C = 1, 2, 7 (with 3 at D
    or F), and no two of 1, 2, 7 sum to 10. Kept: it is the official score.
    """
    cells = _cells(response, "ABCDEFG")
    if cells is None or not _value_set_is(cells, (1, 2, 3, 5, 7, 8)):
        return False
    return (
        cells["A"] + cells["C"] + 9 == 19
        and cells["B"] + cells["C"] + cells["D"] == 19
        and cells["F"] + cells["E"] + cells["D"] == 19
        and cells["E"] + cells["G"] + 6 == 19
    )


@RULES.register("calculate_answer_function_12")
def calculate_answer_function_12(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """The cryptarithm CAT + DOG = PETS, with each letter's value as a digit weight.

    Official quirk: only the sum is checked: no distinct-digit, 0..9 or leading-zero rule.

    >>> calculate_answer_function_12({"C": 9, "A": 8, "T": 1, "D": 7, "O": 6, "G": 0, "P": 1, "E": 7, "S": 1})
    False
    """
    c = _cells(response, "ACTDOGPES")
    if c is None:
        return False
    cat = 100 * c["C"] + 10 * c["A"] + c["T"]
    dog = 100 * c["D"] + 10 * c["O"] + c["G"]
    pets = 1000 * c["P"] + 100 * c["E"] + 10 * c["T"] + c["S"]
    return cat + dog == pets


def _is_int(value: Any) -> bool:
    return isinstance(value, Number) and not isinstance(value, bool) and value == int(value)


def check_magic_sum(assignment: Any, special_info: Any) -> bool:
    """A magic-sum figure (practice tasks; the official benchmark hard-codes its figures above).

    ``assignment``: ``{"A": 4, "B": 9, ...}``, cell label -> integer (extra labels ignored).

    ``special_info`` layout (a dict)::

        {
          "lines":  [["A", "B", "C"], ["D", "E", "F"], ...],  # required, each a list of labels
          "target": 15,                  # optional: every line sums to this; absent or null ->
                                         #   every line sums to the same (unstated) value
          "values": [1, 2, ..., 9],      # optional: the multiset of numbers the cells use,
                                         #   each exactly as often as listed
          "given":  {"E": 5}             # optional: pre-filled cells the answer must keep
        }

    The cells are every label in ``lines`` and ``given``; each must be present with an
    integer value (``5.0`` counts, ``True`` does not). Malformed input returns ``False``.

    >>> square = {"lines": [["A", "B"], ["C", "D"], ["A", "C"], ["B", "D"]], "target": 5, "values": [1, 2, 3, 4]}
    >>> check_magic_sum({"A": 1, "B": 4, "C": 4, "D": 1}, square)  # sums fine, values reused
    False
    """
    if not isinstance(assignment, Mapping) or not isinstance(special_info, Mapping):
        return False
    lines = special_info.get("lines")
    given = special_info.get("given") or {}
    if not isinstance(lines, list) or not lines or not isinstance(given, Mapping):
        return False
    if not all(isinstance(line, list) and line for line in lines):
        return False
    labels = {label for line in lines for label in line} | set(given)
    if not all(label in assignment and _is_int(assignment[label]) for label in labels):
        return False
    if any(assignment[label] != value for label, value in given.items()):
        return False
    values = special_info.get("values")
    if values is not None and (
        not isinstance(values, list)
        or not all(_is_int(v) for v in values)
        or sorted(assignment[label] for label in labels) != sorted(values)
    ):
        return False
    sums = {sum(assignment[label] for label in line) for line in lines}
    target = special_info.get("target")
    return sums == {target} if target is not None else len(sums) == 1
