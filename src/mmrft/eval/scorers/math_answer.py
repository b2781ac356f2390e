"""Free-form math answers judged by math-verify alone (scorer ``math_verify``).

The rule most RL papers report for MathVerse / MATH-Vision-style free-form questions (R1-V,
VLM-R1, Visual-RFT and open-r1's ``accuracy_reward`` all call it): math-verify's ``parse`` on
the gold answer and on the model's answer, then ``verify(gold, answer)``: symbolic and numeric
equivalence (fractions, LaTeX, percentages, sets, intervals, equations).

* ``official``: math-verify with its default extraction (LaTeX then plain expressions,
  ``\\boxed`` first, else the last match) on the answer region (docs/eval.md, "Extraction"),
  ``verify(parse(gold), parse(answer))`` in math-verify's documented order. The gold alone is
  put in math mode (``$...$``) first: it is a math expression by definition, and unwrapped
  ``\\sqrt{8}`` parses to nothing. Quirks kept on the model's side: a hedge ``1, 2, 3, 4`` is
  read as its last number, 4; ``2\\sqrt{2}`` outside math mode is read as 2.
* ``strict``: mmrft's ``math`` reward check (:func:`mmrft.rewards.math.math_equal`) on the final
  answer: plain text is wrapped in ``$...$`` so a hedge is a set and scores 0, over-long answers
  score 0 without parsing, and each parse / comparison is time-bounded.

Papers differ in the extraction before math-verify (the whole completion, the ``<answer>`` block,
the last ``\\boxed``); mmrft's answer region covers the last two. No option letters here: use
``choice`` for multiple choice.
"""

from __future__ import annotations

import threading
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import answer_region, final_answer
from mmrft.rewards.math import DEFAULT_TIMEOUT_S, math_equal


def as_math(gold: str) -> str:
    """A gold answer in math mode: ``$...$`` unless it carries a delimiter already. Unwrapped,
    math-verify finds nothing in ``\\sqrt{8}`` and would mark every answer wrong."""
    return gold if any(d in gold for d in ("$", "\\(", "\\[", "\\boxed")) else f"${gold}$"


def verify_default(pred: str, gold: str) -> tuple[bool, str | None]:
    """math-verify's defaults: ``verify(parse(gold), parse(pred))``, and the string math-verify
    extracted from ``pred`` (None when it found nothing; then the answer is wrong).

    >>> verify_default(r"so \\boxed{0.75}", r"\\frac{3}{4}")
    (True, '0.75')
    >>> verify_default("1, 2, 3, 4", "4")  # the hedge quirk: its last number
    (True, '4')
    """
    from math_verify import parse, verify  # a core dependency; imported where it is used

    # The alarm-based timeouts work only on the main thread (see mmrft.rewards.math).
    main = threading.current_thread() is threading.main_thread()
    timeout = DEFAULT_TIMEOUT_S if main else None
    gold_parsed = parse(as_math(gold), parsing_timeout=timeout)
    pred_parsed = parse(pred, parsing_timeout=timeout)
    if not gold_parsed or not pred_parsed:
        return False, None
    ok = bool(verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    return ok, str(pred_parsed[-1])  # parse returns [sympy object, extracted string]


@SCORERS.register("math_verify")
class MathVerify(Scorer):
    """Fields: answer (the gold value: a string such as "\\frac{3}{4}", or a number)."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        gold = record["answer"]
        if isinstance(gold, bool) or not isinstance(gold, str | int | float):
            raise MalformedRecord(f"'answer' must be a string or a number, got {gold!r}")
        gold = str(gold).strip()
        if not gold:
            raise MalformedRecord("'answer' is empty")
        region, _ = answer_region(record["prediction"])
        if mode == "official":
            ok, extracted = verify_default(region, gold)
            return result(ok, extracted, *([] if extracted is not None else ["unparsed"]))
        short, _ = final_answer(region)
        return result(math_equal(short, gold), short)
