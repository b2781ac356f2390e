"""V* Bench and GQA: multiple choice and normalised exact match.

V* Bench (Wu & Xie, 2024) is multiple choice: its own script ranks the options by likelihood,
which a generated answer cannot reproduce; generative evaluations match the stated option.
mmrft's rule (both modes) is the ``choice`` scorer's (:mod:`.choice`): an option letter in the
final answer, else an option whose text equals the final answer after normalisation.
``answer`` is the gold letter or the gold option text.

GQA (Hudson & Manning, 2019): the official ``eval.py`` counts exact string matches with the
single gold word/phrase; the common generative pipeline (LLaVA's converter) lower-cases the
prediction and drops a trailing period first. Official mode does exactly that. Strict mode also
applies the VQA normalisation: punctuation removed, articles dropped, number words as digits.
"""

from __future__ import annotations

import re
from typing import Any

from mmrft.eval.scorers.base import SCORERS, Scorer, result
from mmrft.eval.scorers.choice import Choice
from mmrft.eval.scorers.extract import final_answer

_NUMBER_WORDS = {
    w: str(i)
    for i, w in enumerate(
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    )
}


def vqa_normalize(text: str) -> str:
    """Lower case, no punctuation, no articles, number words as digits.

    >>> vqa_normalize("The Two dogs.")
    '2 dogs'
    """
    text = re.sub(r"[^\w\s]", " ", text.lower())
    words = [_NUMBER_WORDS.get(w, w) for w in text.split() if w not in ("a", "an", "the")]
    return " ".join(words)


@SCORERS.register("gqa")
class GQA(Scorer):
    """Fields: answer (a short string)."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        short, _ = final_answer(record["prediction"])
        gold = str(record["answer"])
        if mode == "official":
            pred = short.strip().rstrip(".").lower()
            return result(pred == gold.strip().lower(), pred)
        pred = vqa_normalize(short)
        return result(pred == vqa_normalize(gold), pred)


@SCORERS.register("vstar")
class VStar(Choice):
    """Fields: options (option texts in letter order), answer (letter or option text); the
    ``choice`` rule (options may be omitted when the answer is a letter)."""
