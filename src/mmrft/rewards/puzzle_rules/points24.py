"""24 points: an expression that uses each given card exactly once and equals 24.

Official definition (``judge_24points_function``): drop spaces, take the text left of the first
``=``, evaluate it (officially with ``eval``; here ``evaluate_expression``, a whitelist walk
that runs nothing), require the value ``== 24``, and require the sorted list of digit runs in
the text (``re.findall(r"\\d+")``) to equal the sorted cards. Official quirks kept: float
arithmetic, so ``8/(3-8/3)`` (23.999999999999996) fails unless ``exact=True``; a decimal such
as ``1.5`` reads as the two numbers 1 and 5; ``^`` is refused here (officially Python's XOR).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from mmrft.rewards.puzzle_rules.expressions import ExpressionError, evaluate_expression
from mmrft.rewards.puzzle_rules.rules import RULES, RuleInputError

TARGET = 24


def _points24(expression: Any, numbers: Any, exact: bool) -> bool:
    if not isinstance(expression, str):
        raise RuleInputError(
            f"response: expected the expression text, got {type(expression).__name__}"
        )
    if not isinstance(numbers, Sequence) or isinstance(numbers, str):
        raise RuleInputError("special_info.init_cards: expected a list of numbers")
    left = expression.replace(" ", "").split("=")[0]
    try:
        value = evaluate_expression(left, exact=exact)
    except ExpressionError as exc:
        raise ExpressionError(f"response: {exc}") from None
    if value != TARGET:
        return False
    used = sorted(int(run) for run in re.findall(r"\d+", left))
    return used == sorted(numbers)


def check_24_points(expression: Any, numbers: Any, *, exact: bool = False) -> bool:
    """Whether ``expression`` (``"(10-4)*4"``, an ``= 24`` suffix allowed) uses each of
    ``numbers`` exactly once and equals 24. Never raises; ``exact`` uses rational arithmetic.

    The benchmark's ``special_info`` is ``{"init_cards": [4, 4, 10, 10]}``; pass
    ``special_info["init_cards"]`` as ``numbers``.

    >>> check_24_points("(10 - 4) * 4 = 24", [4, 10, 4, 1])
    False
    >>> check_24_points("(10 - 4) * (5 - 1)", [4, 10, 5, 1]), check_24_points("8/(3-8/3)", [3, 3, 8, 8])
    (True, False)
    """
    try:
        return _points24(expression, numbers, exact)
    except (RuleInputError, TypeError):
        return False


@RULES.register("judge_24points_function")
def judge_24points_function(response: Any, answer: Any = None, special_info: Any = None) -> bool:
    """24 points; ``special_info`` is ``{"init_cards": [...]}`` (see ``check_24_points``).

    An expression outside the whitelist raises ``ExpressionError`` (``judge_rule`` reports
    it); the official bare ``except`` scores it ``False`` too.
    """
    if not isinstance(special_info, Mapping) or "init_cards" not in special_info:
        raise RuleInputError("special_info: expected an object with 'init_cards'")
    return _points24(response, special_info["init_cards"], exact=False)
