"""MME-Reasoning's rule functions and the puzzle validators, usable as rewards.

Design note. MME-Reasoning scores in two stages: a judge LLM extracts each response into the
answer's expected form (JSON, or text for choices and 24 points), then the rule named by the
question's ``function_id`` decides correctness. This package is the second stage:

* ``RULES`` maps each official ``function_id`` (exact names) to a pure function
  ``(response, answer, special_info) -> bool`` over parsed values, one module per group:
  ``sets`` (choices, dicts, coordinates, one-of-several), ``expressions`` (equations equal up
  to argument order), ``arithmetic`` (the twelve fixed-figure puzzles, plus a general
  ``check_magic_sum``), ``grids`` (sudoku 4x4/6x6, skyscraper, yin-yang), ``hashi`` and
  ``points24``.
* ``judge_rule`` parses raw values as the official evaluation does (response: JSON, except
  text for ``choice_function`` and ``judge_24points_function``; answer: a Python literal;
  special_info: JSON or a Python literal, only for the six puzzles that read it) and never
  raises: a bad input or a raising rule gives ``correct=False`` with a ``reason``. A wrong but
  well-formed answer gives ``correct=False, reason=None``.
* Official quirks that change scores are kept and marked ``Official quirk:`` in each module;
  the official ``eval`` calls are replaced by ``ast``-based parsing over a whitelist of nodes,
  so nothing read from data ever executes.
* The ``check_*`` validators (bool, never raise) are the reward functions of the practice
  puzzle tasks; their docstrings fix the ``special_info`` layout they read.
"""

from __future__ import annotations

import ast
import difflib
import json
from dataclasses import dataclass
from typing import Any

from mmrft.registry import Registry
from mmrft.rewards.puzzle_rules import arithmetic, expressions, grids, hashi, points24, sets
from mmrft.rewards.puzzle_rules.arithmetic import check_magic_sum
from mmrft.rewards.puzzle_rules.expressions import (
    ExpressionError,
    equations_match,
    evaluate_expression,
)
from mmrft.rewards.puzzle_rules.grids import check_skyscraper, check_sudoku, check_yinyang
from mmrft.rewards.puzzle_rules.hashi import check_hashi
from mmrft.rewards.puzzle_rules.points24 import check_24_points
from mmrft.rewards.puzzle_rules.rules import RULES, RuleFn, RuleInputError

__all__ = [
    "RULES",
    "parse_literal",
    "SPECIAL_INFO_RULES",
    "TEXT_RESPONSE_RULES",
    "ExpressionError",
    "RuleFn",
    "RuleInputError",
    "RuleVerdict",
    "arithmetic",
    "check_24_points",
    "check_hashi",
    "check_magic_sum",
    "check_skyscraper",
    "check_sudoku",
    "check_yinyang",
    "equations_match",
    "evaluate_expression",
    "expressions",
    "grids",
    "hashi",
    "judge_rule",
    "points24",
    "sets",
]

SPECIAL_INFO_RULES = frozenset(
    {
        "calculate_answer_function_hashi",
        "calculate_answer_function_skyscraper",
        "calculate_answer_function_sudoku_4",
        "calculate_answer_function_sudoku_6",
        "calculate_answer_function_yinyang",
        "judge_24points_function",
    }
)
"""The rules that read ``special_info`` (officially required for them, ignored for the rest)."""

TEXT_RESPONSE_RULES = frozenset({"choice_function", "judge_24points_function"})
"""The rules whose extracted response is plain text, not JSON (official)."""

_ANSWER_RULES = frozenset(
    {
        "choice_function",
        "match_answer_function",
        "match_coordinate_function",
        "multiple_match_function",
        "compare_expression_function",
    }
)
"""The rules that read the gold answer (the puzzles only check the response's own validity)."""


@dataclass(frozen=True)
class RuleVerdict:
    """A rule's decision: ``reason`` says why it could not judge (``None`` for a plain verdict)."""

    correct: bool
    reason: str | None = None


def _parse_json(field: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise RuleInputError(f"{field}: not valid JSON ({exc})") from None


def parse_literal(field: str, value: Any) -> Any:
    """Official ``eval(answer)``, as ``ast.literal_eval`` (the same for literals, runs nothing);
    JSON (``null``, ``true``) is accepted too, where the official ``eval`` would crash."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise RuleInputError(f"{field}: not a Python literal (nor JSON)") from None


def _parse_special_info(value: Any) -> Any:
    if value is None:
        raise RuleInputError("special_info: missing (this rule needs it)")
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise RuleInputError("special_info: not valid JSON (nor a Python literal)") from None


def judge_rule(
    function_id: str,
    response: Any,
    answer: Any,
    special_info: Any = None,
    *,
    rules: Registry[RuleFn] = RULES,
) -> RuleVerdict:
    """Judge one extracted response with the official rule ``function_id``; never raises.

    ``response``, ``answer`` and ``special_info`` may be raw strings (as stored in the
    benchmark and produced by the extraction stage) or already-parsed values.

    >>> judge_rule("match_answer_function", '{"A": 5, "B": 1}', "{'A': 5, 'B': 1}")
    RuleVerdict(correct=True, reason=None)
    >>> judge_rule("open_function", "3", "3").reason
    'open_function is judged by the LLM consistency prompt, not a rule'
    """
    if function_id == "open_function":
        return RuleVerdict(
            False, "open_function is judged by the LLM consistency prompt, not a rule"
        )
    if not isinstance(function_id, str) or function_id not in rules:
        close = difflib.get_close_matches(str(function_id), rules.names(), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return RuleVerdict(False, f"unknown function_id {function_id!r}{hint}")
    try:
        if function_id not in TEXT_RESPONSE_RULES:
            response = _parse_json("response", response)
        if function_id in _ANSWER_RULES and function_id != "choice_function":
            answer = parse_literal("answer", answer)
        if function_id in SPECIAL_INFO_RULES:
            special_info = _parse_special_info(special_info)
        result = rules.get(function_id)(response, answer, special_info)
    except RuleInputError as exc:
        return RuleVerdict(False, str(exc))
    except Exception as exc:  # a rule that raises is a failed verdict, never a crash
        return RuleVerdict(False, f"{function_id} raised {type(exc).__name__}: {exc}")
    # Official: a result other than True/False scores as a failure.
    if result is not True and result is not False:
        return RuleVerdict(False, f"{function_id} returned {type(result).__name__}, not bool")
    return RuleVerdict(result)
