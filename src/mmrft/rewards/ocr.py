"""Text-reading rewards: "ocr" (1 - normalised edit distance) and "anls" (DocVQA / ST-VQA).

Design note: both compare the last answer block with ``sample.answer`` plus any further
accepted answers in ``meta["answers"]``, taking the best.

* "ocr": ``1 - lev(p, g) / max(|p|, |g|)`` on the raw strings (case and spacing matter: they
  are part of a transcription).
* "anls": the ST-VQA / DocVQA definition (Biten et al., 2019): both strings lowercased, stripped
  and whitespace-collapsed; ``s = 1 - NL`` with NL the normalised Levenshtein distance, and
  ``s = 0`` when ``s < 0.5`` (the official evaluation code's rule). The official code divides
  by the un-normalised lengths; we use the normalised ones, so padding spaces cannot dilute NL.

``levenshtein`` is Myers' bit-parallel algorithm (Hyyrö's formulation) on Python integers:
``O(|b|)`` big-integer operations of ``|a|`` bits, fast enough for page-length transcriptions
in pure Python. Tests check it against the textbook dynamic programme.
"""

from __future__ import annotations

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS, score_answers

ANLS_THRESHOLD = 0.5  # ST-VQA / DocVQA


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions each cost 1).

    >>> levenshtein("kitten", "sitting"), levenshtein("", "abc"), levenshtein("abc", "abc")
    (3, 3, 0)
    """
    if len(a) < len(b):
        a, b = b, a  # the bit vectors span the longer string; loop over the shorter
    if not b:
        return len(a)
    m = len(a)
    mask, high = (1 << m) - 1, 1 << (m - 1)
    peq: dict[str, int] = {}  # peq[c]: bit i set iff a[i] == c
    for i, c in enumerate(a):
        peq[c] = peq.get(c, 0) | (1 << i)
    pv, mv, score = mask, 0, m  # vertical deltas of column 0 are all +1; D[m][0] = m
    for c in b:
        eq = peq.get(c, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask  # horizontal +1 deltas
        mh = pv & xh  # horizontal -1 deltas
        if ph & high:
            score += 1
        elif mh & high:
            score -= 1
        ph = ((ph << 1) | 1) & mask  # | 1: row 0 grows by one per column (global distance)
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def normalized_edit_distance(pred: str, gold: str) -> float:
    """``lev(pred, gold) / max(len)``, 0.0 for two empty strings.

    >>> normalized_edit_distance("abcd", "abce")
    0.25
    """
    longest = max(len(pred), len(gold))
    return levenshtein(pred, gold) / longest if longest else 0.0


def _golds(sample: Sample) -> list[str]:
    return [sample.answer, *(str(a) for a in sample.meta.get("answers", []))]


def ocr_accuracy(answer: str | None, sample: Sample) -> float:
    """Best ``1 - NED`` over the accepted answers; 0.0 for no or an empty answer."""
    if not answer:
        return 0.0
    return max(1.0 - normalized_edit_distance(answer, g) for g in _golds(sample))


def anls_score(pred: str | None, golds: list[str], threshold: float = ANLS_THRESHOLD) -> float:
    """ANLS of one prediction against its accepted answers.

    >>> anls_score("Hello  World", ["hello world"]), anls_score("hellp", ["hello"])
    (1.0, 0.8)
    >>> anls_score("xyz", ["hello"]), anls_score(None, ["hello"])
    (0.0, 0.0)
    """
    if pred is None:
        return 0.0
    p = " ".join(pred.strip().lower().split())
    best = max(
        1.0 - normalized_edit_distance(p, " ".join(g.strip().lower().split())) for g in golds
    )
    return best if best >= threshold else 0.0


@REWARDS.register("ocr")
def ocr_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * (1 - NED) + 0.1 * format``.

    >>> s = Sample(id="x", prompt="Read the sign.", answer="STOP")
    >>> ocr_reward(["<answer>STOP</answer>", "<answer>ST0P</answer>", "<answer></answer>"],
    ...            [s] * 3)["accuracy"]
    [1.0, 0.75, 0.0]
    """
    return score_answers(completions, samples, ocr_accuracy)


@REWARDS.register("anls")
def anls_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * ANLS + 0.1 * format``.

    >>> s = Sample(id="x", prompt="", answer="Total", meta={"answers": ["total amount"]})
    >>> anls_reward(["<answer>total amount</answer>", "<answer>nothing</answer>"],
    ...             [s, s])["accuracy"]
    [1.0, 0.0]
    """
    return score_answers(completions, samples, lambda a, s: anls_score(a, _golds(s)))
