"""MME-Reasoning's result tables: accuracy overall, per capability, reasoning type, difficulty.

Design note. The official ``MMEReasoning_acc`` reports the mean score overall, then for each
of five capabilities and three reasoning types the mean over the rows whose field *contains*
that name (a question can have several capabilities, so those groups overlap and need not sum
to the total). mmrft adds the difficulty table (exact values, e.g. easy / medium / hard) and the
count of each failure reason. Accuracies are fractions in [0, 1] (the paper prints percent);
a group with no rows is left out rather than reported as NaN.

Official quirk: the official list spells one capability "casual chaining analysis"; a row is
put in that group when its field contains either spelling ("causal" / "casual").
"""

from __future__ import annotations

from collections import Counter
from typing import Any

CAPABILITIES: dict[str, tuple[str, ...]] = {
    "planning and exploring": ("planning and exploring",),
    "calculation": ("calculation",),
    "spatial-temporal": ("spatial-temporal",),
    "causal chaining analysis": ("causal chaining analysis", "casual chaining analysis"),
    "pattern analysis": ("pattern analysis",),
}
"""Table label -> the substrings that put a row in the group."""

REASONING_TYPES = ("inductive", "deductive", "abductive")


def _contains(field: Any, needle: str) -> bool:
    """``needle in field`` as the official code applies it: a substring of a string, or of any
    item of a list."""
    if isinstance(field, list | tuple):
        return any(needle in str(item).lower() for item in field)
    return field is not None and needle in str(field).lower()


def _acc(scores: list[float]) -> dict[str, Any]:
    return {"n": len(scores), "acc": sum(scores) / len(scores)}


def aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """The tables from scored records (each with ``score`` and the row's fields).

    Returns ``{"n", "mean", "overall", "capability": {label: {"n", "acc"}},
    "reasoning_type": {...}, "difficulty": {...}, "failures": {reason: count}}``.
    """
    scores = [float(r["score"]) for r in records]
    out: dict[str, Any] = {"n": len(records), "mean": sum(scores) / len(scores) if scores else 0.0}
    out["overall"] = out["mean"]
    capability = {}
    for label, needles in CAPABILITIES.items():
        group = [
            s
            for r, s in zip(records, scores, strict=True)
            if any(_contains(r.get("capability"), n) for n in needles)
        ]
        if group:
            capability[label] = _acc(group)
    reasoning = {}
    for label in REASONING_TYPES:
        group = [
            s
            for r, s in zip(records, scores, strict=True)
            if _contains(r.get("reasoning_type"), label)
        ]
        if group:
            reasoning[label] = _acc(group)
    by_level: dict[str, list[float]] = {}
    for r, s in zip(records, scores, strict=True):
        level = r.get("difficulty")
        key = str(level).strip().lower() if level not in (None, "") else "unknown"
        by_level.setdefault(key, []).append(s)
    out["capability"] = capability
    out["reasoning_type"] = reasoning
    out["difficulty"] = {k: _acc(v) for k, v in sorted(by_level.items())}
    failures = Counter(str(r["failure"]) for r in records if r.get("failure"))
    out["failures"] = dict(sorted(failures.items()))
    return out
