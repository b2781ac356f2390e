"""Numeric answers within a tolerance ("numeric", "numeric_relaxed") and normalised exact match.

Design note: ``parse_number`` reads exactly one number, strictly: an optional sign or currency
sign, digits with optional thousands separators ("1,234"), decimals, exponent ("1e-3"), a
simple fraction ("3/4") and an optional trailing "%" or unit word ("12 cm"). A list ("1 2 3"),
a range ("3-4") or a sentence scores 0, so a policy cannot hedge by listing candidates. "50%"
reads as 50 (the percent sign is dropped, not divided): charts and tables state percentages in
the same unit as their gold answer.

A prediction ``p`` matches gold ``g`` when ``|p - g| <= max(abs_tol, rel_tol * |g|)`` (the
``math.isclose`` rule, asymmetric in that ``g`` sets the scale). Per-sample ``meta["rel_tol"]``
/ ``meta["abs_tol"]`` override the reward's defaults:

* "numeric": ``rel_tol=1e-6`` -- equal up to float round-off and short printed decimals;
* "numeric_relaxed": ``rel_tol=0.05`` -- ChartQA's "relaxed accuracy" (5 % relative error).

"exact_match" compares SQuAD-normalised strings (lowercase, punctuation and the articles
a/an/the removed, whitespace collapsed); ``meta["answers"]`` may list further accepted answers.
"""

from __future__ import annotations

import math
import re
import string
from fractions import Fraction

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS, score_answers

EXACT_REL_TOL = 1e-6
CHARTQA_REL_TOL = 0.05  # ChartQA (Masry et al., 2022) relaxed accuracy

_NUMBER = re.compile(
    r"""\s*[$€£¥]?\s*
    (?P<num>[-+−]?\s*(?:\d{1,3}(?:,\d{3})+|\d{1,40})(?:\.\d{1,40})?(?:[eE][-+]?\d{1,3})?
      (?:\s*/\s*\d{1,40})?
    |[-+−]?\.\d{1,40})
    \s*(?:%|[A-Za-z°]{1,12}\.?)?\s*\.?\s*""",
    re.VERBOSE,
)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def parse_number(text: str | None) -> float | None:
    """The single number in ``text`` under the strict rule above, or None.

    >>> [parse_number(t) for t in ["1,234.5", "-3", "3/4", "50%", "12 cm", "$5", "1e-3"]]
    [1234.5, -3.0, 0.75, 50.0, 12.0, 5.0, 0.001]
    >>> [parse_number(t) for t in ["1 2 3", "3-4", "three", "", None, "1/0", "1e999"]]
    [None, None, None, None, None, None, None]
    """
    if not text or len(text) > 200:
        return None
    match = _NUMBER.fullmatch(text)
    if not match:
        return None
    raw = match.group("num").replace(",", "").replace("−", "-").replace(" ", "")
    try:
        if "/" in raw:
            num, den = raw.split("/")
            value = float(Fraction(num) / Fraction(den))
        else:
            value = float(raw)
    except (ValueError, ZeroDivisionError, OverflowError):
        return None
    return value if math.isfinite(value) else None


def numeric_match(pred: str | None, gold: str, *, rel_tol: float, abs_tol: float = 0.0) -> bool:
    """``|p - g| <= max(abs_tol, rel_tol * |g|)`` for the parsed numbers; False if either fails.

    >>> numeric_match("0.333", "1/3", rel_tol=0.01), numeric_match("105", "100", rel_tol=0.01)
    (True, False)
    """
    p, g = parse_number(pred), parse_number(gold)
    if g is None:
        raise ValueError(f"gold answer {gold!r} is not a number")
    return p is not None and abs(p - g) <= max(abs_tol, rel_tol * abs(g))


def _numeric_scorer(rel_tol: float, abs_tol: float):
    def accuracy(answer: str | None, sample: Sample) -> float:
        rel = float(sample.meta.get("rel_tol", rel_tol))
        abs_ = float(sample.meta.get("abs_tol", abs_tol))
        return float(numeric_match(answer, sample.answer, rel_tol=rel, abs_tol=abs_))

    return accuracy


@REWARDS.register("numeric")
def numeric_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * accuracy + 0.1 * format``; accuracy is a numeric match at ``rel_tol=1e-6``.

    >>> s = Sample(id="x", prompt="", answer="1234.5")
    >>> numeric_reward(["<answer>1,234.50</answer>", "<answer>1234</answer>"], [s, s])["accuracy"]
    [1.0, 0.0]
    """
    return score_answers(completions, samples, _numeric_scorer(EXACT_REL_TOL, 0.0))


@REWARDS.register("numeric_relaxed")
def numeric_relaxed_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """Like "numeric" with ChartQA's 5 % relative tolerance.

    >>> s = Sample(id="x", prompt="", answer="100")
    >>> numeric_relaxed_reward(["<answer>104</answer>", "<answer>106</answer>"], [s, s])["accuracy"]
    [1.0, 0.0]
    """
    return score_answers(completions, samples, _numeric_scorer(CHARTQA_REL_TOL, 0.0))


def normalize_text(text: str) -> str:
    """SQuAD's answer normalisation: lowercase, drop punctuation and articles, collapse spaces.

    >>> normalize_text("  The Eiffel-Tower! ")
    'eiffeltower'
    """
    text = text.lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match_accuracy(answer: str | None, sample: Sample) -> float:
    """1.0 iff the normalised answer equals the normalised gold or one of ``meta["answers"]``."""
    if answer is None:
        return 0.0
    pred = normalize_text(answer)
    golds = [sample.answer, *sample.meta.get("answers", [])]
    return float(bool(pred) and any(pred == normalize_text(str(g)) for g in golds))


@REWARDS.register("exact_match")
def exact_match_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * accuracy + 0.1 * format``; accuracy is normalised exact match.

    >>> s = Sample(id="x", prompt="", answer="the Red Square")
    >>> exact_match_reward(["<answer>Red square.</answer>", "<answer>red</answer>"],
    ...                    [s, s])["accuracy"]
    [1.0, 0.0]
    """
    return score_answers(completions, samples, exact_match_accuracy)
