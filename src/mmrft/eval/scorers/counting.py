"""Counting (CLEVR / SuperCLEVR style): integer exact match after extraction.

There is no single official counting scorer; the R1-style counting evaluations compare the
integer inside the answer with the gold count. mmrft's rule (both modes): the last number of the
final answer (:func:`.extract.final_answer`); correct iff it equals the gold integer (so "3.0"
counts as 3, "3.5" never matches). Strict mode also reads English number words ("three") when
no digit is written.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import final_answer, last_number

WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


@SCORERS.register("count")
class Count(Scorer):
    """Fields: answer (the gold count, an integer or its string)."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        try:
            gold = float(str(record["answer"]).strip())
        except ValueError:
            raise MalformedRecord(f"'answer' {record['answer']!r} is not a count") from None
        short, _ = final_answer(record["prediction"])
        value = last_number(short)
        if value is None and mode == "strict":
            words = re.findall(r"[a-z]+", short.lower())
            hits = [WORDS.index(w) for w in words if w in WORDS]
            value = float(hits[-1]) if hits else None
        if value is None or not math.isfinite(value):  # "1e999" is no count (and no JSON)
            return result(False, None, "unparsed")
        return result(value == gold, int(value) if value.is_integer() else value)
