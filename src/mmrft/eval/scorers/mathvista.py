"""MathVista (Lu et al., 2024): the two official stages, extraction then scoring.

Official pipeline (lupantech/MathVista, ``evaluation/extract_answer.py`` then
``evaluation/calculate_score.py``):

* extraction: an empty response gives ""; a multi-choice response that *is* one of the choices
  is kept; an integer / float answer type tries ``int(response)`` / ``float(response)``;
  the optional quick rule takes ``The answer is "X".``; everything else goes to GPT-4 with a
  few-shot prompt. mmrft replaces the GPT-4 step with the rules of :mod:`.extract` (flag
  ``rule_extraction``). A record that carries the official ``extraction`` field skips this
  stage entirely, so the score stage below reproduces published numbers exactly.
* normalisation by type, then ``prediction == answer`` (string equality):
  multi_choice: strip, take the letter of a "(X)" if present, map a letter to its choice text,
  otherwise take the choice with the smallest Levenshtein distance (always some choice);
  integer: ``str(int(float(x)))``, which *truncates* 3.7 to "3"; float:
  ``str(round(float(x), precision))``; list: ``str(x)``; text: unchanged. Anything that fails
  to parse becomes None (wrong).

Strict mode fixes the quirks (docs/eval.md): no nearest-choice guess, no truncation, numeric
comparison of floats (so "1.50" equals "1.5"), thousands commas accepted, element-wise lists,
case-insensitive text.
"""

from __future__ import annotations

import re
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, need, result
from mmrft.eval.scorers.extract import (
    answer_region,
    choice_letter,
    final_answer,
    levenshtein,
    normalize_text,
    numbers,
    to_float,
)

_QUICK = re.compile(r'The answer is "(.*)"\.')
_LIST = re.compile(r"[\[(][^\[\]()]*[\])]")


def extract_official(response: str, record: dict[str, Any]) -> tuple[str, list[str]]:
    """Stage 1: the official rule steps, then mmrft's rules in place of GPT-4."""
    qtype, atype = record["question_type"], record["answer_type"]
    choices = record.get("choices") or []
    if response == "":
        return "", []
    if qtype == "multi_choice" and response in choices:
        return response, []
    if atype == "integer":
        try:
            return str(int(response)), []
        except ValueError:
            pass
    if atype == "float":
        try:
            return str(float(response)), []
        except ValueError:
            pass
    quick = _QUICK.search(response)
    if quick:
        return quick.group(1), []
    return _rule_extract(response, qtype, atype, choices), ["rule_extraction"]


def _rule_extract(response: str, qtype: str, atype: str, choices: list[str]) -> str:
    """What mmrft extracts where the official code asks GPT-4 (docs/eval.md, MathVista)."""
    region, _ = answer_region(response)
    short, _ = final_answer(response)
    if qtype == "multi_choice":
        for text in (short, region):
            letter = choice_letter(text, len(choices))
            if letter:
                return letter
            for choice in choices:
                if normalize_text(text) == normalize_text(choice):
                    return choice
        return short
    if atype in ("integer", "float"):
        found = numbers(short) or numbers(region)
        return found[-1].replace(",", "") if found else short
    if atype == "list":
        lists = _LIST.findall(short) or _LIST.findall(region)
        return lists[-1] if lists else short
    return short


def normalize_official(extraction: Any, record: dict[str, Any]) -> tuple[Any, list[str]]:
    """Stage 2, as ``normalize_extracted_answer`` in calculate_score.py."""
    qtype, atype = record["question_type"], record["answer_type"]
    choices = record.get("choices") or []
    if qtype == "multi_choice":
        text = extraction.strip() if isinstance(extraction, str) else str(extraction)
        letters = re.findall(r"\(([a-zA-Z])\)", text)
        if letters:
            text = letters[0].upper()
        options = [chr(ord("A") + i) for i in range(len(choices))]
        if text in options:
            return choices[options.index(text)], []
        # The official code always lands on some choice: the first with the least edit distance.
        dists = [levenshtein(text, c) for c in choices]
        return choices[dists.index(min(dists))], ["nearest_choice"]
    try:
        if atype == "integer":
            return str(int(float(extraction))), []
        if atype == "float":
            return str(round(float(extraction), _precision(record))), []
        if atype == "list":
            return str(extraction), []
    except (TypeError, ValueError, OverflowError):  # official: a bare except -> None ("inf")
        return None, ["unparsed"]
    return extraction, []


def score_strict(extraction: Any, record: dict[str, Any]) -> tuple[bool, Any, list[str]]:
    qtype, atype = record["question_type"], record["answer_type"]
    choices, answer = record.get("choices") or [], str(record["answer"])
    text = str(extraction).strip()
    if qtype == "multi_choice":
        letter = choice_letter(text, len(choices))
        if letter:
            pick = choices[ord(letter) - ord("A")]
        else:
            pick = next((c for c in choices if normalize_text(c) == normalize_text(text)), None)
        if pick is None:
            return False, None, ["unparsed"]
        return normalize_text(pick) == normalize_text(answer), pick, []
    if atype in ("integer", "float"):
        value = to_float(text)
        gold = to_float(answer)
        if value is None or gold is None:
            return False, None, ["unparsed"]
        if atype == "integer":
            return value == gold, value, []  # 3.7 is not 3
        p = _precision(record)
        return round(value, p) == round(gold, p), value, []
    if atype == "list":
        pred_items, gold_items = _list_items(text), _list_items(answer)
        return pred_items == gold_items, pred_items, []
    return normalize_text(text) == normalize_text(answer), text, []


def _list_items(text: str) -> list[Any]:
    items = [s.strip() for s in text.strip().strip("[]()").split(",") if s.strip()]
    return [to_float(s) if to_float(s) is not None else normalize_text(s) for s in items]


def _precision(record: dict[str, Any]) -> int:
    # The official data stores an int; the HF copy stores 1.0 (which round() would reject).
    p = record.get("precision")
    try:
        return int(p) if p is not None else 0
    except (TypeError, ValueError, OverflowError):  # a malformed record: round to integers
        return 0


@SCORERS.register("mathvista")
class MathVista(Scorer):
    """Fields: question_type (multi_choice|free_form), answer_type (integer|float|text|list),
    choices, precision, optional extraction (the official stage-1 output)."""

    required = ("prediction", "answer", "question_type", "answer_type")

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        if record["question_type"] == "multi_choice" and not need(record, "choices", list):
            raise MalformedRecord("multi_choice needs a non-empty 'choices' list")
        if record.get("extraction") is not None:
            extraction, flags = record["extraction"], ["given_extraction"]
        else:
            extraction, flags = extract_official(record["prediction"], record)
        answer = record["answer"]
        # The official data stores answers as strings; a bare JSON number is read as one.
        answer = str(answer) if isinstance(answer, int | float) else answer
        if mode == "official":
            pred, more = normalize_official(extraction, record)
            return result(pred == answer, pred, *flags, *more, extraction=extraction)
        ok, pred, more = score_strict(extraction, record)
        return result(ok, pred, *flags, *more, extraction=extraction)
