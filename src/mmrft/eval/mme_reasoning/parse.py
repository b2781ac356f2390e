"""Reading MME-Reasoning values: the judge's JSON, the data's literals, and strict extraction.

Design note. Three readers, all pure and none executing anything:

* :func:`read_judge_json` — the official acceptance rule for a JSON-prompt judge output: the
  text parses as JSON bare, or the first fenced block of one of three variants does
  (```` ```json ````, a plain fence, ```` ```JSON ````), tried in that order. It returns the
  JSON text, as the official code stores it, or None (the extraction is retried).
* :func:`read_literal` — ``answer`` and ``special_info`` cells are Python literals in the
  official data (``"['A', 'C']"``, ``"{'init_islands': [...]}"``), read by the official code
  with ``eval``; here with ``ast.literal_eval`` (then JSON), so a cell can never run code.
* :func:`strict_extract` — the ``strict`` mode's deterministic stand-in for the judge: per
  ``prompt_id``, the last JSON/literal value of the right shape in the response, else a
  pattern for the prompt's answer form (``A: 5``, ``(B, 2)``, option letters, a formula).
"""

from __future__ import annotations

import json
import re
from typing import Any

from mmrft.eval.scorers.extract import answer_region, choice_letter, final_answer
from mmrft.rewards.puzzle_rules import RuleInputError, parse_literal

FENCES = (
    re.compile(r"```json\s*(.*?)\s*```", re.S),
    re.compile(r"```\s*(.*?)\s*```", re.S),
    re.compile(r"```JSON\s*(.*?)\s*```", re.S),
)
"""The three fenced-block variants the official extraction accepts, in its order."""


def _loads(text: str) -> Any:
    return json.loads(text)


def read_judge_json(text: str) -> str | None:
    """The JSON text in a judge output, bare or fenced; None when there is none.

    >>> read_judge_json('{"A": 1}'), read_judge_json('Here:\\n```json\\n[1, 2]\\n```')
    ('{"A": 1}', '[1, 2]')
    >>> read_judge_json("```\\n{\\"id\\": [\\"B\\"]}\\n```"), read_judge_json("A is 5")
    ('{"id": ["B"]}', None)
    """
    try:
        _loads(text)
        return text
    except (ValueError, TypeError):
        pass
    for fence in FENCES:
        match = fence.search(text)
        if match is None:
            continue
        try:
            _loads(match.group(1))
            return match.group(1)
        except ValueError:
            continue
    return None


class LiteralError(ValueError):
    """A data cell that is not a Python/JSON literal; the message names the field."""


def read_literal(value: Any, field: str) -> Any:
    """A cell as a value, read as the rule functions read answers (``puzzle_rules.parse_literal``:
    non-strings pass through, strings as a Python literal, then JSON); LiteralError naming
    ``field`` otherwise.

    >>> read_literal("['A', 'C']", "answer"), read_literal({"a": 1}, "special_info")
    (['A', 'C'], {'a': 1})
    """
    try:
        return parse_literal(field, value)
    except RuleInputError as e:
        raise LiteralError(str(e)) from None


# --------------------------------------------------------------------------- strict extraction

_BRACKETED = re.compile(r"[\[{]")


def literal_values(text: str) -> list[Any]:
    """Every JSON/Python-literal list or dict in ``text`` that starts at a bracket and parses,
    outermost first, in order of their start (a nested one inside a parsed one is skipped).

    >>> literal_values('grid: [[1, 2], [2, 1]] and {"A": 3}')
    [[[1, 2], [2, 1]], {'A': 3}]
    """
    out, pos = [], 0
    while True:
        match = _BRACKETED.search(text, pos)
        if match is None:
            return out
        start = match.start()
        end, value = _parse_at(text, start)
        if end is None:
            pos = start + 1
            continue
        out.append(value)
        pos = end


def _parse_at(text: str, start: int) -> tuple[int | None, Any]:
    opener = text[start]
    closer = "]" if opener == "[" else "}"
    depth = 0
    for i in range(start, min(len(text), start + 20_000)):
        ch = text[i]
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                if ch != closer:
                    return None, None
                chunk = text[start : i + 1]
                try:
                    return i + 1, read_literal(chunk, "response")
                except LiteralError:
                    return None, None
    return None, None


def _last(values: list[Any], ok: Any) -> Any:
    for value in reversed(values):
        if ok(value):
            return value
    return None


def _is_grid(v: Any) -> bool:
    return (
        isinstance(v, list)
        and bool(v)
        and all(isinstance(r, list) and r and all(_is_int(x) for x in r) for r in v)
    )


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


_PAIR = re.compile(r"\b([A-Za-z]|\d{1,2})\s*(?:[:=]|->|is)\s*(-?\d+(?:\.\d+)?|[A-Za-z])\b")
_COORD = re.compile(r"\(\s*([A-Za-z]|\d+)\s*,\s*([A-Za-z]|\d+)\s*\)")
_BRIDGE = re.compile(
    r"\b([a-z]\d{1,2})\s*(?:-|–|to|and)\s*([a-z]\d{1,2})\b(?:[^\n,;]*?\b([12])\b)?", re.I
)


def _num(text: str) -> Any:
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def _pairs(text: str, keys_are_numbers: bool) -> dict[str, Any] | None:
    found = {}
    for key, value in _PAIR.findall(text):
        if key.isdigit() != keys_are_numbers:
            continue
        found[key.upper() if key.isalpha() else key] = _num(value) if not value.isalpha() else value
    return found or None


def _coords(text: str) -> list[dict[str, Any]] | None:
    cells = [{"row": r, "column": _num(c)} for r, c in _COORD.findall(text)]
    return cells or None


_LETTER_LIST = re.compile(r"[\[(]?\s*([A-Z])(?:\s*(?:,|and|&|\s)\s*[A-Z])*\s*[\])]?\s*[.]?", re.S)


def _choice_letters(text: str) -> str | None:
    """The option letters of the final answer: a bare letter list (``"A, C"``, ``"[B and D]"``)
    as a whole, else one letter stated the usual ways (``choice_letter``)."""
    short, _ = final_answer(text)
    short = short.strip().strip("*$").strip()
    if _LETTER_LIST.fullmatch(short):
        return ", ".join(dict.fromkeys(re.findall(r"[A-Z]", short)))
    letter = choice_letter(short, 26)
    return letter


_OPS = (("×", "*"), ("÷", "/"), ("\\times", "*"), ("\\div", "/"), ("−", "-"), ("x", "*"))
_CARDS = {"A": "1", "J": "11", "Q": "12", "K": "13"}


def _formula(text: str) -> str | None:
    lines = [ln for ln in re.split(r"[\n]|(?<=[.;])\s", text) if "=" in ln and re.search(r"\d", ln)]
    if not lines:
        return None
    line = lines[-1].strip().strip("$*. ")
    line = re.sub(r"\\[()\[\]]", "", line)
    for old, new in _OPS:
        line = line.replace(old, new)
    line = re.sub(r"\b([AJQK])\b", lambda m: _CARDS[m.group(1)], line)
    match = re.search(r"[\d(][\d\s+\-*/().]*=\s*-?\d+(?:\.\d+)?", line)
    return match.group(0).replace(" ", "") if match else None


def strict_extract(prompt_id: str, response: str) -> Any:
    """What the judge would return, read by rules; None when nothing fits.

    JSON prompts give a Python value (dict or list), free-text prompts a string: ``"A, C"``
    for choice, the final-answer text for open, ``"12*2*(3-1)=24"`` for 24 points.

    >>> strict_extract("id_answer_pair_prompt", "So A: 5, B: 1, C: 2.")
    {'A': 5, 'B': 1, 'C': 2}
    >>> strict_extract("choice_prompt", "Both hold, so the answer is B, D.")
    'B, D'
    """
    region, _ = answer_region(response)
    values = literal_values(region)
    if prompt_id in ("id_answer_pair_prompt", "id_answer_pair_prompt_reverse"):
        reverse = prompt_id.endswith("reverse")
        return _last(values, lambda v: isinstance(v, dict) and v) or _pairs(region, reverse)
    if prompt_id == "coordinate_answer_prompt":
        found = _last(
            values, lambda v: isinstance(v, list) and v and all(isinstance(c, dict) for c in v)
        )
        return found or _coords(region)
    if prompt_id == "multiple_answer_prompt":
        found = _last(values, lambda v: isinstance(v, dict) and len(v) == 1)
        if found is not None:
            return found
        letters = _choice_letters(region)
        return {"id": letters.split(", ")} if letters else None
    if prompt_id == "formula_extraction_prompt":
        found = _last(values, lambda v: isinstance(v, dict) and "equation" in v)
        if found is not None:
            return found
        short, _ = final_answer(region)
        equation = _formula(region) or (short if "=" in short else None)
        return {"equation": equation.strip()} if equation else None
    if prompt_id in ("skyscraper_extraction_prompt", "yinyang_extraction_prompt") or (
        prompt_id.startswith("sudoku_")
    ):
        return _last(values, _is_grid)
    if prompt_id == "hashi_extraction_prompt":
        found = _last(
            values, lambda v: isinstance(v, list) and v and all(isinstance(b, dict) for b in v)
        )
        if found is not None:
            return found
        bridges = [
            {"start": a.lower(), "end": b.lower(), "number": int(n or 1)}
            for a, b, n in _BRIDGE.findall(region)
        ]
        return bridges or None
    if prompt_id == "choice_prompt":
        return _choice_letters(region)
    if prompt_id == "points24_prompt":
        return _formula(region)
    if prompt_id == "open_question_prompt":
        short, _ = final_answer(region)
        return short.strip() or None
    return None
