"""Stage 1 of MME-Reasoning's official scoring: the judge rewrites a response into answer form.

Design note. The official ``MMEReasoning_extract`` (Alpha-Innovator/MME-Reasoning,
``mmereasoning_utils.py``) does, per question:

1. route: ``function_id`` and ``prompt_id`` from the row; a row without ``function_id`` is a
   ``choice`` (choice prompt, ``choice_function``) or an ``open`` question (open prompt,
   ``open_function``) by its ``question_type`` (:func:`route`);
2. ask the judge up to ``RETRIES`` = 5 times at temperatures 0, 0.5, 1.0, 1.5, 2.0
   (``TEMPERATURE_STEP`` per try); a free-text prompt's first reply is taken as written, a JSON
   prompt's reply must yield JSON (:func:`parse.read_judge_json`) or the next try runs;
3. after five failures the extraction is empty, and the question scores False.

The open-question consistency verdict (stage 2, :func:`verdict`) has the same schedule and
takes only a reply that is exactly ``0`` or ``1`` (stripped).

Every judge answer is cached in a JSONL file (:class:`JudgeCache`), keyed by the kind of call,
the question's index, a hash of the text judged and the judge's name, so an interrupted or
repeated run asks the judge nothing it already answered. A judge call that raises counts as a
failed try (an endpoint's transient error), never ends the run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from mmrft.eval.mme_reasoning.parse import read_judge_json
from mmrft.eval.mme_reasoning.prompts import CONSISTENCY, EXTRACTION_PROMPTS, FREE_TEXT_PROMPTS
from mmrft.rewards.judge import fill_template

logger = logging.getLogger(__name__)

RETRIES = 5
TEMPERATURE_STEP = 0.5
MAX_RESPONSE_CHARS = 16_000
"""Longer responses are cut (from the front: the answer is at the end) before the judge."""


class JudgeUnavailable(ValueError):
    """The judge model cannot be loaded. Not a failed try to repeat: every official score
    that needs the judge fails at once with this reason (strict scores are unaffected)."""


class RouteError(ValueError):
    """A row that names no usable prompt/function (the message says which field)."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value == ""


def route(record: dict[str, Any]) -> tuple[str, str]:
    """``(prompt_id, function_id)`` for a row, as the official code picks them.

    >>> route({"question_type": "choice", "function_id": None})
    ('choice_prompt', 'choice_function')
    >>> route({"question_type": "open", "function_id": "match_answer_function",
    ...        "prompt_id": "id_answer_pair_prompt"})
    ('id_answer_pair_prompt', 'match_answer_function')
    """
    function_id = record.get("function_id")
    if _blank(function_id):
        kind = str(record.get("question_type", "")).strip().lower()
        if kind == "choice":
            return "choice_prompt", "choice_function"
        if kind == "open":
            return "open_question_prompt", "open_function"
        raise RouteError(f"question_type {kind!r} needs a function_id")
    prompt_id = record.get("prompt_id")
    if _blank(prompt_id):
        raise RouteError(f"function_id {function_id!r} without a prompt_id")
    if str(prompt_id) not in EXTRACTION_PROMPTS:
        raise RouteError(f"unknown prompt_id {prompt_id!r}")
    return str(prompt_id), str(function_id)


@dataclasses.dataclass
class JudgeResult:
    """One judge call's outcome: ``value`` (the text taken, or None), ``tries`` used and the
    ``temperatures`` asked; ``cached`` when it came from the cache."""

    value: str | None
    tries: int
    temperatures: list[float]
    cached: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "tries": self.tries, "temperatures": self.temperatures}


def schedule(retries: int = RETRIES, step: float = TEMPERATURE_STEP) -> list[float]:
    """The temperatures of the tries: ``[0.0, 0.5, 1.0, 1.5, 2.0]`` by default."""
    return [i * step for i in range(retries)]


def _ask(judge: Any, prompt: str, accept: Any, retries: int) -> JudgeResult:
    asked: list[float] = []
    for temperature in schedule(retries):
        asked.append(temperature)
        try:
            reply = judge.generate(prompt, temperature)
        except JudgeUnavailable:  # no judge at all: no point in the other temperatures
            raise
        except Exception as e:  # an endpoint error is one failed try
            logger.warning("judge %s failed at temperature %s: %s", _name(judge), temperature, e)
            continue
        value = accept(reply)
        if value is not None:
            return JudgeResult(value, len(asked), asked)
    return JudgeResult(None, len(asked), asked)


def _name(judge: Any) -> str:
    return str(getattr(judge, "name", type(judge).__name__))


class JudgeCache:
    """Judge answers in a JSONL file (one object per call), loaded on open, appended on put.

    ``path=None`` keeps the cache in memory only. A line that is not JSON is ignored (a run
    killed mid-write leaves at most one such line).
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path is not None and self.path.is_file():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.entries[entry["key"]] = entry
                except (ValueError, KeyError, TypeError):
                    continue

    @staticmethod
    def key(kind: str, index: Any, text: str, judge: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        return f"{kind}:{index}:{digest}:{judge}"

    def get(self, key: str) -> JudgeResult | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        return JudgeResult(entry["value"], entry["tries"], entry["temperatures"], cached=True)

    def put(self, key: str, res: JudgeResult) -> None:
        entry = {"key": key, **res.to_json()}
        self.entries[key] = entry
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def _cached(
    cache: JudgeCache | None, kind: str, index: Any, text: str, judge: Any, run: Any
) -> JudgeResult:
    key = JudgeCache.key(kind, index, text, _name(judge))
    hit = cache.get(key) if cache is not None else None
    if hit is not None:
        return hit
    res = run()
    if cache is not None:
        cache.put(key, res)
    return res


def extract(
    judge: Any,
    prompt_id: str,
    question: str,
    response: str,
    *,
    index: Any = None,
    cache: JudgeCache | None = None,
    retries: int = RETRIES,
) -> JudgeResult:
    """The judge's extraction of ``response`` for a ``prompt_id`` question (the schedule and
    acceptance rule of the module note); ``value`` None when every try failed."""
    template = EXTRACTION_PROMPTS[prompt_id]
    response = response[-MAX_RESPONSE_CHARS:]
    prompt = fill_template(template, question, response, "")
    if prompt_id in FREE_TEXT_PROMPTS:
        accept: Any = lambda reply: reply  # noqa: E731  (the first reply, as written)
    else:
        accept = read_judge_json
    return _cached(
        cache, f"extract/{prompt_id}", index, response, judge,
        lambda: _ask(judge, prompt, accept, retries),
    )  # fmt: skip


def _zero_one(reply: str) -> str | None:
    reply = reply.strip()
    return reply if reply in ("0", "1") else None


def verdict(
    judge: Any,
    question: str,
    answer: str,
    extracted: str,
    *,
    index: Any = None,
    cache: JudgeCache | None = None,
    retries: int = RETRIES,
) -> JudgeResult:
    """The judge's consistency verdict, ``value`` ``"1"`` / ``"0"``, or None after every try
    gave something else."""
    prompt = fill_template(CONSISTENCY, question, extracted, answer)
    return _cached(
        cache, "verdict", index, f"{answer}\n{extracted}", judge,
        lambda: _ask(judge, prompt, _zero_one, retries),
    )  # fmt: skip
