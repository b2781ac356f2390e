"""Stage 2 of MME-Reasoning scoring: one record -> a result, in the official or strict mode.

Design note. Both modes route the record the same way (``extract.route``) and end the same
way: an open question (``open_function``) is judged by consistency, every other one by the
rule function its ``function_id`` names (``mmrft.rewards.puzzle_rules.judge_rule``, which
parses the JSON / literal texts and never raises). They differ in who reads the response:

* ``official`` — the judge LLM extracts (``extract.extract``: five tries, temperature +0.5),
  and gives the open questions' 0/1 verdict (``extract.verdict``), as the official code does;
* ``strict`` — no LLM: ``parse.strict_extract`` reads the answer by rules, and an open
  question is correct when the final answer equals the standard one after normalisation
  (numbers: equal to two decimals, the tolerance the official verdict prompt allows;
  a literal list: the same items in order; other text: ``normalize_text`` equality).

Every failure scores False and names its reason in ``failure`` (one of :data:`FAILURES`),
counted by ``tables.aggregate``; a wrong answer is not a failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mmrft.eval.mme_reasoning.extract import (
    JudgeCache,
    JudgeUnavailable,
    RouteError,
    extract,
    route,
    verdict,
)
from mmrft.eval.mme_reasoning.parse import LiteralError, read_literal, strict_extract
from mmrft.eval.mme_reasoning.prompts import FREE_TEXT_PROMPTS
from mmrft.eval.scorers.base import result
from mmrft.eval.scorers.extract import normalize_text, numbers, to_float
from mmrft.rewards.puzzle_rules import RULES, SPECIAL_INFO_RULES, judge_rule

_WORD = re.compile(r"[A-Za-z0-9.+\-]+")

FAILURES = {
    "no_judge": "official mode needs a judge model (mmrft eval --judge)",
    "judge_unavailable": "the judge model could not be loaded (the log says why)",
    "bad_route": "no usable prompt_id/function_id (see the detail)",
    "unknown_function_id": "function_id names no rule in mmrft.rewards.puzzle_rules.RULES",
    "invalid_answer": "the answer cell is not a literal",
    "invalid_special_info": "special_info missing or not a literal for a puzzle rule",
    "judge_no_json": "the judge never returned JSON in five tries",
    "judge_no_verdict": "the judge never answered 0 or 1 in five tries",
    "judge_empty": "the judge's extraction was empty",
    "no_answer_found": "strict mode found no answer of the expected form",
    "rule_rejected": "the rule function could not read the extracted answer",
}
"""Failure reasons: each scores False and is counted."""


def _fail(reason: str, extracted: Any = None, detail: str = "", **extra: Any) -> dict[str, Any]:
    return result(
        False, extracted, reason, failure=reason, detail=detail or FAILURES[reason], **extra
    )


def _index(record: dict[str, Any]) -> Any:
    return record.get("index", record.get("id", record.get("question", "")[:80]))


def _unreadable_cells(function_id: str, record: dict[str, Any]) -> str | None:
    """None when the record's cells are readable for ``function_id``, else a failure reason."""
    if function_id not in ("choice_function", "open_function") and record.get("answer") is not None:
        try:
            read_literal(record["answer"], "answer")
        except LiteralError:
            return "invalid_answer"
    if function_id in SPECIAL_INFO_RULES:
        info = record.get("special_info")
        if info is None or info == "":
            return "invalid_special_info"
        try:
            read_literal(info, "special_info")
        except LiteralError:
            return "invalid_special_info"
    return None


def apply_rule(function_id: str, response: Any, record: dict[str, Any]) -> dict[str, Any]:
    """The rule's verdict on an extracted ``response`` (text as the judge gives it, or a value
    strict mode read), as a result dict."""
    if function_id not in RULES:
        return _fail("unknown_function_id", response, f"unknown function_id {function_id!r}")
    problem = _unreadable_cells(function_id, record)
    if problem is not None:
        return _fail(problem, response)
    text = response if isinstance(response, str) else json.dumps(response, ensure_ascii=False)
    verdict_ = judge_rule(function_id, text, record.get("answer"), record.get("special_info"))
    if verdict_.correct:
        return result(True, text)
    if verdict_.reason:  # the rule could not read its input (a wrong answer has no reason)
        return _fail("rule_rejected", text, str(verdict_.reason))
    return result(False, text)


def official_score(
    record: dict[str, Any], judge: Any, cache: JudgeCache | None = None
) -> dict[str, Any]:
    """The official protocol: judge extraction, then the rule (or the judge's verdict)."""
    try:
        prompt_id, function_id = route(record)
    except RouteError as e:
        return _fail("bad_route", None, str(e))
    if judge is None:
        return _fail("no_judge")
    try:
        return _judged(record, judge, cache, prompt_id, function_id)
    except JudgeUnavailable as e:
        return _fail("judge_unavailable", None, str(e))


def _judged(
    record: dict[str, Any], judge: Any, cache: JudgeCache | None, prompt_id: str, function_id: str
) -> dict[str, Any]:
    index, question = _index(record), str(record.get("question", ""))
    got = extract(judge, prompt_id, question, record["prediction"], index=index, cache=cache)
    info = {"judge_tries": got.tries}
    if got.value is None:
        reason = "judge_empty" if prompt_id in FREE_TEXT_PROMPTS else "judge_no_json"
        return _fail(reason, None, **info)
    if function_id == "open_function":
        if not got.value.strip():
            return _fail("judge_empty", got.value, **info)
        answer = str(record.get("answer", ""))
        said = verdict(judge, question, answer, got.value, index=index, cache=cache)
        if said.value is None:
            return _fail("judge_no_verdict", got.value, **info)
        return result(said.value == "1", got.value, **info)
    return {**apply_rule(function_id, got.value, record), **info}


def strict_score(record: dict[str, Any]) -> dict[str, Any]:
    """The LLM-free mode of the module note."""
    try:
        prompt_id, function_id = route(record)
    except RouteError as e:
        return _fail("bad_route", None, str(e))
    if function_id == "open_function":
        ok, extracted = open_match(record["prediction"], record.get("answer"))
        return result(ok, extracted, *([] if extracted else ["no_answer"]))
    value = strict_extract(prompt_id, record["prediction"])
    if value is None or value == "":
        return _fail("no_answer_found")
    return apply_rule(function_id, value, record)


def open_match(response: str, answer: Any) -> tuple[bool, str | None]:
    """Strict open-question rule: ``(correct, final answer read)``.

    >>> open_match("The answer is 3.50.", "3.5"), open_match("Go Left, Up.", "['Left', 'Up']")
    ((True, '3.50'), (True, 'Go Left, Up.'))
    >>> open_match("The answer is 1.414", "\\sqrt{2}")  # text, not a number: no match
    (False, '1.414')
    """
    extracted = strict_extract("open_question_prompt", response)
    if not extracted:
        return False, None
    try:
        gold = read_literal(answer, "answer") if isinstance(answer, str) else answer
    except LiteralError:
        gold = answer
    if isinstance(gold, list | tuple):  # the last len(gold) words, in order
        items = [normalize_text(str(g)) for g in gold]
        words = [normalize_text(w) for w in _WORD.findall(extracted)]
        return bool(items) and words[-len(items) :] == items, extracted
    gold_value = to_float(str(gold).strip())
    if gold_value is not None:
        found = numbers(extracted)
        value = to_float(found[-1]) if found else None
        return value is not None and round(value, 2) == round(gold_value, 2), extracted
    return normalize_text(extracted) == normalize_text(str(gold)), extracted
