"""ChartQA (Masry et al., 2022): relaxed accuracy.

Official rule (the paper, end of section 5.1, as implemented by ``relaxed_correctness`` in
google-research/pix2struct ``pix2struct/metrics.py``, used for the published ChartQA numbers):
a numeric answer is right within 5% relative change of the gold, anything else needs an exact
(case-insensitive) match. ``float(text)`` decides what is numeric; a trailing "%" divides by
100; relative change is ``|pred - gold| / |gold|``; with several gold answers the best counts.

Quirks reproduced in official mode (fixed in strict, docs/eval.md):

* a gold of 0 is falsy, so it falls back to string equality ("0" vs "0.0" is wrong);
* "%" is converted on one side only: gold "45" vs prediction "45%" compares 45 with 0.45;
* "1,234" or "$12" are not numbers to ``float``, so they need an exact string match.
"""

from __future__ import annotations

from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import final_answer

MAX_RELATIVE_CHANGE = 0.05


def relaxed_correctness(target: str, prediction: str, max_change: float = MAX_RELATIVE_CHANGE):
    """Official ChartQA relaxed accuracy for one (gold, prediction) pair.

    >>> relaxed_correctness("100", "104")  # 4% off: within 5%
    True
    >>> relaxed_correctness("0", "0.0")  # gold 0 is falsy: string comparison
    False
    """

    def to_float(text: str) -> float | None:
        try:
            return float(text.rstrip("%")) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            return None

    pred, gold = to_float(prediction), to_float(target)
    if pred is not None and gold:
        return abs(pred - gold) / abs(gold) <= max_change
    return prediction.lower() == target.lower()


def _clean(text: str) -> str:
    return " ".join(text.split()).strip().rstrip(".").strip().strip("\"'")


def _strict_float(text: str) -> float | None:
    text = _clean(text).replace(",", "").lstrip("$").rstrip("%").strip()
    try:
        return float(text)
    except ValueError:
        return None


def strict_correctness(target: str, prediction: str, max_change: float = MAX_RELATIVE_CHANGE):
    """Relaxed accuracy without the quirks: 0 compares numerically, "%" is a unit on both sides
    (45 and 45% agree), thousands commas, "$" and a trailing period are ignored."""
    pred, gold = _strict_float(prediction), _strict_float(target)
    if pred is not None and gold is not None:
        if gold == 0:
            return pred == 0
        return abs(pred - gold) / abs(gold) <= max_change
    return _clean(prediction).lower() == _clean(target).lower()


@SCORERS.register("chartqa")
class ChartQA(Scorer):
    """Fields: answer (a string, or a list of acceptable strings)."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        golds = record["answer"] if isinstance(record["answer"], list) else [record["answer"]]
        if not golds or not all(isinstance(g, str | int | float) for g in golds):
            raise MalformedRecord("'answer' must be a string or a list of strings")
        pred, _ = final_answer(record["prediction"])
        judge = relaxed_correctness if mode == "official" else strict_correctness
        return result(max(judge(str(g), pred) for g in golds), pred)
