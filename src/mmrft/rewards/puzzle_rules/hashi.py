"""Hashi (bridges): connect numbered islands with horizontal/vertical bridges.

Coordinates are a column letter then a 1-based row number (``"b1"``, ``"f8"``). The official
checks, in their order: no bridge from an island to itself; both ends are islands; bridges are
orthogonal; at most two bridges join a pair; each island has exactly its required number of
bridges; no two bridges pass over the same empty cell (this is how crossing is detected).

Official quirks kept (``strict=False``, what ``RULES`` uses): the islands need not form one
connected group, a bridge may pass over an island, and a pair listed twice with one bridge each
counts as "crossing" when the islands are not adjacent. ``strict=True`` (practice tasks) adds
connectivity, bridges of 1 or 2, and no bridge through an island.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from mmrft.rewards.puzzle_rules.rules import RULES, RuleInputError

_MALFORMED = (RuleInputError, TypeError, KeyError, IndexError, ValueError, AttributeError)


def _xy(cord: Any, field: str) -> tuple[int, int]:
    """``"c3"`` -> (2, 3): column index from the letter (a = 0), row number as written."""
    if not isinstance(cord, str) or len(cord) < 2 or not cord[1:].isdigit():
        raise RuleInputError(f"{field}: expected a coordinate like 'c3', got {cord!r}")
    return ord(cord[0]) - ord("a"), int(cord[1:])


def _islands(special_info: Any) -> dict[str, int]:
    if not isinstance(special_info, Mapping) or not isinstance(
        special_info.get("init_islands"), list
    ):
        raise RuleInputError("special_info: expected an object with an 'init_islands' list")
    islands = {}
    for i, island in enumerate(special_info["init_islands"]):
        if not isinstance(island, Mapping) or "cord" not in island or "requirement" not in island:
            raise RuleInputError(f"special_info.init_islands[{i}]: expected {{cord, requirement}}")
        _xy(island["cord"], f"special_info.init_islands[{i}].cord")
        islands[island["cord"]] = island["requirement"]
    return islands


def _bridges(response: Any) -> list[tuple[str, str, Any]]:
    if not isinstance(response, list):
        raise RuleInputError("response: expected a list of {start, end, number} bridges")
    out = []
    for i, bridge in enumerate(response):
        if not isinstance(bridge, Mapping) or not {"start", "end", "number"} <= set(bridge):
            raise RuleInputError(f"response[{i}]: expected {{start, end, number}}")
        out.append((bridge["start"], bridge["end"], bridge["number"]))
    return out


def _interior(start: str, end: str) -> list[tuple[int, int]]:
    """The cells strictly between two orthogonally aligned islands."""
    (x0, y0), (x1, y1) = _xy(start, "bridge"), _xy(end, "bridge")
    if x0 == x1:
        return [(x0, y) for y in range(min(y0, y1) + 1, max(y0, y1))]
    return [(x, y0) for x in range(min(x0, x1) + 1, max(x0, x1))]


def _connected(islands: dict[str, int], bridges: list[tuple[str, str, Any]]) -> bool:
    links = defaultdict(set)
    for start, end, _ in bridges:
        links[start].add(end)
        links[end].add(start)
    first = next(iter(islands))
    seen, stack = {first}, [first]
    while stack:
        for nb in links[stack.pop()] - seen:
            seen.add(nb)
            stack.append(nb)
    return seen == set(islands)


def _hashi(response: Any, special_info: Any, strict: bool) -> bool:
    if not response:  # official: no bridges is a wrong answer
        return False
    islands = _islands(special_info)
    bridges = _bridges(response)
    if any(start == end for start, end, _ in bridges):
        return False
    per_pair: dict[tuple[str, str], Any] = defaultdict(int)
    per_island: dict[str, Any] = defaultdict(int)
    for start, end, number in bridges:
        if start not in islands or end not in islands:
            return False
        (x0, y0), (x1, y1) = _xy(start, "bridge"), _xy(end, "bridge")
        if x0 != x1 and y0 != y1:
            return False
        if strict and (type(number) is not int or number not in (1, 2)):
            return False
        pair = (min(start, end), max(start, end))
        per_pair[pair] += number
        if per_pair[pair] > 2:
            return False
        per_island[start] += number
        per_island[end] += number
    if any(per_island[island] != need for island, need in islands.items()):
        return False
    used: set[tuple[int, int]] = set()
    for start, end, _ in bridges:
        for cell in _interior(start, end):
            if cell in used:
                return False
            used.add(cell)
    if strict:
        island_cells = {_xy(cord, "island") for cord in islands}
        if used & island_cells or not _connected(islands, bridges):
            return False
    return True


def check_hashi(bridges: Any, special_info: Any, *, strict: bool = False) -> bool:
    """A hashi solution: ``bridges`` is ``[{"start": "a1", "end": "c1", "number": 2}, ...]``.

    ``special_info``: ``{"init_islands": [{"cord": "a1", "requirement": 3}, ...]}``, every
    island with its column-letter + row-number coordinate and its number of bridges.

    >>> info = {"init_islands": [{"cord": "a1", "requirement": 2}, {"cord": "c1", "requirement": 2}]}
    >>> check_hashi([{"start": "a1", "end": "c1", "number": 2}], info)
    True
    >>> check_hashi([{"start": "a1", "end": "c1", "number": 1}], info)
    False
    """
    try:
        return _hashi(bridges, special_info, strict)
    except _MALFORMED:
        return False


@RULES.register("calculate_answer_function_hashi")
def calculate_answer_function_hashi(
    response: Any, answer: Any = None, special_info: Any = None
) -> bool:
    """Hashi (see ``check_hashi``)."""
    return _hashi(response, special_info, strict=False)
