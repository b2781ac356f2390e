"""The scorer contract shared by every benchmark family.

A scorer turns one record (a dict: the model's raw ``prediction``, the ground-truth ``answer``
and the benchmark's own fields, named as in the official data) into a result dict::

    {"score": 1.0, "extracted": "B", "flags": ["nearest_choice"]}

``score`` is in [0, 1]; ``extracted`` is what the scorer compared against the answer (after its
extraction and normalisation); ``flags`` name anything a reader should know about that line
(a random guess, a fallback parse). ``aggregate`` turns the scored records into benchmark-level
numbers (the mean by default; MME adds acc+).

Two modes: ``official`` reproduces the official evaluation code, quirks included, so that a
number is comparable with published ones; ``strict`` fixes the quirks listed in docs/eval.md.
"""

from __future__ import annotations

from typing import Any, ClassVar

from mmrft.registry import Registry

MODES = ("official", "strict")


class MalformedRecord(ValueError):
    """A record the scorer cannot read (missing field, wrong type). The CLI skips the line."""


class Scorer:
    """Base class: subclasses set ``required`` and implement ``score``."""

    required: ClassVar[tuple[str, ...]] = ("prediction", "answer")

    def check(self, record: dict[str, Any], mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; known: {list(MODES)}")
        if not isinstance(record, dict):
            raise MalformedRecord(f"a record must be a JSON object, got {type(record).__name__}")
        missing = [k for k in self.required if k not in record]
        if missing:
            raise MalformedRecord(f"missing field(s) {missing}")
        if not isinstance(record["prediction"], str):
            raise MalformedRecord("'prediction' must be a string")

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        raise NotImplementedError

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Benchmark-level numbers from records that already carry a ``score``."""
        n = len(records)
        return {"n": n, "mean": sum(r["score"] for r in records) / n if n else 0.0}


SCORERS: Registry[type[Scorer]] = Registry("scorer")


def result(score: float | bool, extracted: Any, *flags: str, **extra: Any) -> dict[str, Any]:
    """The result dict every scorer returns."""
    return {"score": float(score), "extracted": extracted, "flags": list(flags), **extra}


def need(record: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    """``record[key]`` checked against ``kind``; a clear MalformedRecord otherwise."""
    if key not in record:
        raise MalformedRecord(f"missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        raise MalformedRecord(f"field {key!r} has type {type(value).__name__}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)
