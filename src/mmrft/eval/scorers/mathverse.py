"""MathVerse (Zhang et al., 2024): rule-based stand-in for a GPT-judged benchmark.

The official evaluation extracts the answer with GPT-4 and then asks GPT-4 whether it matches
the gold answer; there is no rule-based official scorer to reproduce, so ``official`` and
``strict`` are the same here (docs/eval.md says so next to the published numbers' caveat).
mmrft's rule: the final answer (:func:`.extract.final_answer`); multiple choice
(``question_type: "multi-choice"``) compares the stated option letter with the gold letter;
free-form answers are judged with math-verify (symbolic / numeric equivalence).
"""

from __future__ import annotations

import re
from typing import Any

from mmrft.eval.scorers.base import SCORERS, Scorer, result
from mmrft.eval.scorers.extract import final_answer
from mmrft.eval.scorers.mathvision import verify_math


@SCORERS.register("mathverse")
class MathVerse(Scorer):
    """Fields: question_type (multi-choice|free-form), answer (a letter or a value)."""

    required = ("prediction", "answer", "question_type")

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        short, _ = final_answer(record["prediction"])
        gold = str(record["answer"]).strip()
        if record["question_type"] == "multi-choice":
            m = re.search(r"(?<![A-Za-z])\(?([A-F])\)?(?![A-Za-z])", short)
            if m is None:
                return result(False, None, "unparsed")
            return result(m.group(1) == gold.strip("()").upper(), m.group(1))
        return result(verify_math(short, gold), short)
