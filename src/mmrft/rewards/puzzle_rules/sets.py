"""Answer-matching rules: choice sets, key/value dicts, coordinate lists, one-of-several answers.

Each follows the official MME-Reasoning definition (``function4eval.py``) including the quirks
that change scores, marked ``Official quirk:`` below, so results compare with published
numbers. Inputs are parsed values (``judge_rule`` parses the JSON / Python-literal strings),
except ``choice_function``, which, as officially, compares raw text.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Mapping
from typing import Any

from mmrft.rewards.puzzle_rules.rules import RULES, RuleInputError


def _as_set_if_list(value: Any) -> Any:
    return set(value) if isinstance(value, list) else value


def _choice_text(value: Any) -> str:
    """The official answer normalisation: a Python literal list joins with ',', else ``str``.

    Official quirk: the answer goes through ``eval`` (here ``ast.literal_eval``: same result
    for every literal, and never executes code); text that is not a literal stays as is, so
    ``"[A, C]"`` (unquoted letters) is compared as the two pieces ``"[A"`` and ``"C]"``.
    A list of non-strings is joined as text here (officially ``join`` would raise).
    """
    if isinstance(value, str):
        with contextlib.suppress(ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            value = ast.literal_eval(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


@RULES.register("choice_function")
def choice_function(response: Any, answer: Any, special_info: Any = None) -> bool:
    """Same set of comma-separated choices (order, repeats and surrounding spaces ignored).

    ``response`` is the extracted text (``"A, C"``); a list is joined with ',' first.
    ``answer`` is the gold text or a Python literal list (``"['A', 'C']"``).

    >>> choice_function("C, A", "['A', 'C']")
    True
    >>> choice_function("A", "['A', 'C']")
    False
    """
    if response is None:
        raise RuleInputError("response: missing")
    text = ",".join(str(v) for v in response) if isinstance(response, list) else str(response)
    got = {part.strip() for part in text.split(",")}
    want = {part.strip() for part in _choice_text(answer).split(",")}
    return got == want


@RULES.register("match_answer_function")
def match_answer_function(response: Any, answer: Any, special_info: Any = None) -> bool:
    """Every key of the gold dict has the same value in the response (lists compared as sets).

    Extra response keys are ignored; a missing key reads as ``None``. Values compare with
    Python ``==`` (so ``5 == 5.0``; strings are case-sensitive).

    >>> match_answer_function({"A": 5, "B": ["x", "y"], "C": 0}, {"A": 5, "B": ["y", "x"]})
    True
    >>> match_answer_function({"A": 5}, {"A": 5, "B": 1})
    False
    """
    if not isinstance(response, Mapping):
        raise RuleInputError(f"response: expected a JSON object, got {type(response).__name__}")
    if not isinstance(answer, Mapping):
        raise RuleInputError(f"answer: expected a dict, got {type(answer).__name__}")
    return all(
        _as_set_if_list(response.get(key)) == _as_set_if_list(value)
        for key, value in answer.items()
    )


def _coordinate_keys(items: Any, field: str) -> list[str]:
    if isinstance(items, Mapping):
        items = [items]
    if not isinstance(items, list):
        raise RuleInputError(f"{field}: expected a list of {{row, column}} objects")
    keys = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping) or "row" not in item or "column" not in item:
            raise RuleInputError(f"{field}[{i}]: expected an object with 'row' and 'column'")
        # Official quirk: a cell is the text str(row) + str(column), so (1, 12) and (11, 2)
        # are the same cell, and row 1 differs from row 1.0.
        keys.append(str(item["row"]) + str(item["column"]))
    return keys


@RULES.register("match_coordinate_function")
def match_coordinate_function(response: Any, answer: Any, special_info: Any = None) -> bool:
    """The same cells in the same order; each cell is ``{"row": ..., "column": ...}``.

    ``answer`` may be one cell (a dict) or a list; the response must be a list (officially a
    single dict response fails). Order matters (official).

    >>> match_coordinate_function([{"row": "A", "column": 1}], {"row": "A", "column": 1})
    True
    >>> cells = [{"row": "A", "column": 1}, {"row": "B", "column": 3}]
    >>> match_coordinate_function(cells[::-1], cells)
    False
    """
    if isinstance(response, Mapping):
        raise RuleInputError("response: expected a list of cells, got one object")
    return _coordinate_keys(response, "response") == _coordinate_keys(answer, "answer")


@RULES.register("multiple_match_function")
def multiple_match_function(response: Any, answer: Any, special_info: Any = None) -> bool:
    """The response's single value is one of the gold answers (lists compared as sets).

    ``response`` is a one-key object (``{"id": ["A", "C"]}``); ``answer`` a list of acceptable
    answers. Official quirk: when the response value is a list, every gold answer is turned
    into a set, so a gold *string* becomes its set of characters.

    >>> multiple_match_function({"id": ["C", "A"]}, [["A", "C"], ["B", "D"]])
    True
    >>> multiple_match_function({"id": 3}, [1, 2])
    False
    """
    if not isinstance(response, Mapping) or len(response) != 1:
        raise RuleInputError("response: expected an object with exactly one key")
    if not isinstance(answer, list | tuple):
        raise RuleInputError(f"answer: expected a list of answers, got {type(answer).__name__}")
    value = next(iter(response.values()))
    if isinstance(value, list):
        return set(value) in [set(ans) for ans in answer]
    return value in answer
