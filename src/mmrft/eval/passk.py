"""k-sample metrics: pass@k (unbiased), mean@k and maj@k, from the scores of k completions.

Design note: with k completions per problem there are three useful numbers, and they answer
different questions.

* ``mean@k`` — the mean score over all k completions: the policy's expected score for one
  sample (what RL optimises). Partial credit (OCR's 1 - NED, an IoU) counts as is.
* ``pass@j`` — the chance that at least one of j completions drawn from the k is correct, by the
  unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code",
  eq. 1): ``1 - C(k - c, j) / C(k, j)`` with c correct out of k. A completion is *correct* when
  its score reaches ``correct_at`` (default 1.0, full credit), so partial credit never counts as
  a pass.
* ``maj@k`` — self-consistency: the answer extracted most often among the k completions wins the
  vote, and its score counts. Completions with no extracted answer (``None``) abstain; ties go to
  the answer whose first occurrence is earliest, and the score of that first occurrence counts.
  When every completion abstains, the first completion's score counts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from ``n`` samples of which ``c`` are correct: ``1 - C(n-c, k) / C(n, k)``.

    Computed as ``1 - prod_{i=n-c+1}^{n} (1 - k / i)`` (Chen et al. 2021), which never forms the
    huge binomials.

    >>> pass_at_k(5, 2, 2)  # 1 - C(3,2)/C(5,2) = 1 - 3/10
    0.7
    >>> pass_at_k(4, 1, 1), pass_at_k(4, 0, 4), pass_at_k(4, 1, 4)
    (0.25, 0.0, 1.0)
    """
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:  # every draw of k samples contains a correct one
        return 1.0
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return round(1.0 - prod, 12)  # round away float dust: 1 - 0.3 = 0.7, not 0.7000000000000001


def mean_at_k(scores: Sequence[float]) -> float:
    """Mean score over the k completions of one problem.

    >>> mean_at_k([1.0, 0.0, 0.5, 0.5])
    0.5
    """
    if not scores:
        raise ValueError("mean@k of no scores")
    return sum(scores) / len(scores)


def majority_vote(answers: Sequence[Any]) -> int:
    """Index of the completion whose answer wins the vote (see the module note for the rules).

    Answers are compared by value (lists and dicts by their JSON form); ``None`` abstains.

    >>> majority_vote(["3", "4", "4", "3"])  # tie: "3" occurs first
    0
    >>> majority_vote([None, "4", None, "5", "5"])
    3
    >>> majority_vote([None, None])
    0
    """
    counts: dict[str, int] = {}
    first: dict[str, int] = {}
    for i, answer in enumerate(answers):
        if answer is None:
            continue
        key = json.dumps(answer, sort_keys=True, default=str)
        counts[key] = counts.get(key, 0) + 1
        first.setdefault(key, i)
    if not counts:
        return 0
    best = max(counts.values())
    return min(first[key] for key, n in counts.items() if n == best)


def maj_at_k(answers: Sequence[Any], scores: Sequence[float]) -> float:
    """Score of the majority-vote answer among k completions.

    >>> maj_at_k(["7", "3", "3", "7", "3"], [0.0, 1.0, 1.0, 0.0, 1.0])
    1.0
    >>> maj_at_k(["7", "3"], [0.0, 1.0])  # tie: "7" came first
    0.0
    """
    if len(answers) != len(scores) or not scores:
        raise ValueError(f"maj@k needs one score per answer, got {len(answers)} and {len(scores)}")
    return float(scores[majority_vote(answers)])


def pass_ks(k: int) -> list[int]:
    """The j of the reported pass@j: powers of two up to ``k``, and ``k`` itself.

    >>> pass_ks(1), pass_ks(8), pass_ks(5)
    ([1], [1, 2, 4, 8], [1, 2, 4, 5])
    """
    js = [2**p for p in range(int(math.log2(k)) + 1)] if k >= 1 else []
    return js + ([k] if k not in js else [])


def k_sample_metrics(
    scores: Sequence[Sequence[float]],
    answers: Sequence[Sequence[Any]] | None = None,
    *,
    correct_at: float = 1.0,
) -> dict[str, float]:
    """Benchmark numbers from per-problem scores: ``scores[p]`` holds problem p's k scores.

    Returns ``mean@k``, ``pass@j`` for each j of ``pass_ks(k)`` and, when ``answers`` (the
    extracted answers, same shape) are given, ``maj@k`` — each the mean over problems — plus
    ``n`` (problems). Every problem must have the same k.

    >>> m = k_sample_metrics([[1, 0, 0, 0], [1, 1, 1, 1]], [["a", "b", "b", "c"], ["d"] * 4])
    >>> m["mean@4"], m["pass@1"], m["pass@2"], m["pass@4"], m["maj@4"]
    (0.625, 0.625, 0.75, 1.0, 0.5)
    """
    if not scores:
        return {"n": 0}
    k = len(scores[0])
    if any(len(s) != k for s in scores):
        raise ValueError("every problem needs the same number of scores")
    n = len(scores)
    out: dict[str, float] = {"n": n, f"mean@{k}": sum(mean_at_k(s) for s in scores) / n}
    correct = [sum(x >= correct_at - 1e-9 for x in s) for s in scores]
    for j in pass_ks(k):
        out[f"pass@{j}"] = sum(pass_at_k(k, c, j) for c in correct) / n
    if answers is not None:
        out[f"maj@{k}"] = sum(maj_at_k(a, s) for a, s in zip(answers, scores, strict=True)) / n
    return out
