"""Benchmark scorers behind one registry: ``SCORERS.get("chartqa")().score(record, mode)``.

Each module reproduces one benchmark family's official scoring rules (``official`` mode, quirks
included) and offers a ``strict`` mode that fixes the documented quirks. docs/eval.md lists the
fields each scorer reads, the extraction rules and every quirk.

>>> from mmrft.eval.scorers import score_record
>>> score_record("chartqa", {"prediction": "<answer>104</answer>", "answer": "100"})["score"]
1.0
"""

from __future__ import annotations

from typing import Any

from mmrft.eval.scorers import (  # noqa: F401  (registration side effects)
    chartqa,
    choice,
    counting,
    grounding,
    math_answer,
    mathverse,
    mathvision,
    mathvista,
    mme,
    mme_reasoning,
    mmmu,
    mmmu_pro,
    screenspot,
    vqa,
)
from mmrft.eval.scorers.base import MODES, SCORERS, MalformedRecord, Scorer

__all__ = ["MODES", "SCORERS", "MalformedRecord", "Scorer", "score_record", "score_records"]


def score_record(name: str, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
    """Score one record with the scorer registered as ``name``."""
    return SCORERS.get(name)().score(record, mode)


def score_records(
    name: str, records: list[dict[str, Any]], mode: str = "official"
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each record with its result merged in, and the benchmark-level summary."""
    scorer = SCORERS.get(name)()
    scored = [{**r, **scorer.score(r, mode)} for r in records]
    return scored, {"scorer": name, "mode": mode, **scorer.aggregate(scored)}
