"""The registry of MME-Reasoning rule functions, keyed by the official ``function_id``.

Kept apart from the package ``__init__`` so every group module can register into it without
an import cycle. An entry is a function ``(response, answer, special_info) -> bool`` that takes
already-parsed values (``judge_rule`` does the parsing); it may raise on malformed input, and
``judge_rule`` turns any raise into a ``False`` verdict with a reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mmrft.registry import Registry

RuleFn = Callable[[Any, Any, Any], bool]
"""``(response, answer, special_info) -> bool`` over parsed values."""

RULES: Registry[RuleFn] = Registry("function_id")
"""Official MME-Reasoning ``function_id`` -> rule function (exact official names)."""


class RuleInputError(ValueError):
    """A response or special_info of the wrong shape; the message names the field."""
