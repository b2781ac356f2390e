"""Rewards of the MME-Reasoning-style practice puzzles, scored by the benchmark's own rules.

Design note: each reward reads the last ``<answer>...</answer>`` block, parses it into the form
the benchmark's answer extraction produces (JSON for grids, bridges and lettered cells; plain
text for a 24-points expression) and asks the matching validator of
``mmrft.rewards.puzzle_rules`` whether it obeys the puzzle's rules, given the sample's
``meta["special_info"]``. No stored solution is compared, so any valid solution scores.

    reward              validator                                   answer block
    puzzle_sudoku       check_sudoku(grid, info, strict=True)       [[1, 2, 3, 4], ...]
    puzzle_skyscraper   check_skyscraper(grid, info, strict=True)   [[1, 2, 3], ...]
    puzzle_hashi        check_hashi(bridges, info, strict=True)     [{"start": "a1", ...}, ...]
    puzzle_points24     check_24_points(text, cards, exact=True)    (8-4)*(7-1)
    puzzle_magic_sum    check_magic_sum(cells | given, info)        {"A": 4, "E": 5}

``strict`` adds the practice checks the official rules leave out (cells are exactly 1..n;
hashi islands connected, bridges of 1 or 2 that pass over no island). ``exact`` evaluates 24
points in rationals, so ``8/(3-8/3)`` counts (the official float check says 23.999...). A magic
square's given cells carry no letter in the image, so their values (``special_info["given"]``)
are added to the answer before checking; a given the answer restates must still match.

Scores follow the shared split (``score_answers``): ``0.9 * accuracy + 0.1 * format``; the
logged components are ``format``, ``accuracy`` and ``parsed`` (the block parsed into the
expected form). Nothing raises on a bad completion: a missing, oversized or unparsable block
scores accuracy 0. JSON is read with ``json.loads`` and expressions by the validators' ``ast``
whitelist: nothing in a completion runs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS, RewardFn, score_answers
from mmrft.rewards.puzzle_rules import (
    check_24_points,
    check_hashi,
    check_magic_sum,
    check_skyscraper,
    check_sudoku,
)

MAX_ANSWER_CHARS = 4000
"""Longer answer blocks are not parsed (a 6x6 grid or 30 bridges take well under 2000)."""
_FENCE = re.compile(r"```(?:json|python)?\s*(.*?)\s*```", re.DOTALL)

Validator = Callable[[Any, Mapping[str, Any]], bool]


def parse_json_answer(text: str | None) -> Any:
    """The answer block as JSON (one surrounding code fence allowed), or None.

    >>> parse_json_answer('[[1, 2], [2, 1]]'), parse_json_answer("```json\\n[1]\\n```")
    ([[1, 2], [2, 1]], [1])
    >>> parse_json_answer("[[1, 2], [2, 1]"), parse_json_answer(None)
    (None, None)
    """
    if text is None or len(text) > MAX_ANSWER_CHARS:
        return None
    fenced = _FENCE.fullmatch(text.strip())
    if fenced:
        text = fenced.group(1)
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _special_info(sample: Sample) -> Mapping[str, Any] | None:
    info = (sample.meta or {}).get("special_info")
    return info if isinstance(info, Mapping) else None


def _verdict(parsed: Any, sample: Sample, check: Validator) -> dict[str, float]:
    info = _special_info(sample)
    ok = parsed is not None and info is not None and check(parsed, info)
    return {"accuracy": float(ok), "parsed": float(parsed is not None)}


def _json_reward(name: str, check: Validator) -> RewardFn:
    """Register (as ``name``) a reward that parses the answer block as JSON for ``check``."""

    def accuracy(answer: str | None, sample: Sample) -> dict[str, float]:
        return _verdict(parse_json_answer(answer), sample, check)

    def reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        return score_answers(completions, samples, accuracy)

    reward.__name__ = reward.__qualname__ = name
    reward.__doc__ = f"{name}: the answer block as JSON, judged by the puzzle's validator."
    return REWARDS.register(name)(reward)


def _magic_sum(cells: Any, info: Mapping[str, Any]) -> bool:
    if not isinstance(cells, Mapping):
        return False
    given = info.get("given") or {}
    return check_magic_sum({**given, **cells} if isinstance(given, Mapping) else cells, info)


def _points24(answer: str | None, sample: Sample) -> dict[str, float]:
    text = answer if answer is not None and 0 < len(answer) <= MAX_ANSWER_CHARS else None
    info = _special_info(sample)
    ok = (
        text is not None
        and info is not None
        and check_24_points(text, info.get("init_cards"), exact=True)
    )
    return {"accuracy": float(ok), "parsed": float(text is not None)}


puzzle_sudoku = _json_reward(
    "puzzle_sudoku", lambda grid, info: check_sudoku(grid, info, strict=True)
)
puzzle_skyscraper = _json_reward(
    "puzzle_skyscraper", lambda grid, info: check_skyscraper(grid, info, strict=True)
)
puzzle_hashi = _json_reward(
    "puzzle_hashi", lambda bridges, info: check_hashi(bridges, info, strict=True)
)
puzzle_magic_sum = _json_reward("puzzle_magic_sum", _magic_sum)


@REWARDS.register("puzzle_points24")
def puzzle_points24(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """24 points: the answer block is an expression over the cards that equals 24.

    >>> s = Sample(id="x", prompt="", answer="", meta={"special_info": {"init_cards": [3, 3, 8, 8]}})
    >>> puzzle_points24(["<answer>8/(3-8/3)</answer>", "<answer>8*3</answer>", "24"], [s, s, s])
    {'overall': [1.0, 0.1, 0.0], 'format': [1.0, 1.0, 0.0], 'accuracy': [1.0, 0.0, 0.0], 'parsed': [1.0, 1.0, 0.0]}
    """
    return score_answers(completions, samples, _points24)
