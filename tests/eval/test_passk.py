"""pass@k / mean@k / maj@k against hand-computed values and the binomial definition."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from mmrft.eval.passk import k_sample_metrics, maj_at_k, majority_vote, pass_at_k, pass_ks


def comb_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """The definition, exactly: 1 - C(n-c, k) / C(n, k) (math.comb(a, b) = 0 when b > a)."""
    return 1 - Fraction(math.comb(n - c, k), math.comb(n, k))


@pytest.mark.parametrize(
    "n, c, k, expected",
    [
        (5, 2, 2, 0.7),  # 1 - C(3,2)/C(5,2) = 1 - 3/10
        (6, 1, 3, 0.5),  # 1 - C(5,3)/C(6,3) = 1 - 10/20
        (10, 3, 1, 0.3),  # pass@1 = c/n
        (4, 2, 3, 1.0),  # only 2 wrong samples: any 3 contain a correct one
        (8, 0, 4, 0.0),
        (4, 4, 1, 1.0),
    ],
)
def test_pass_at_k_hand_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_matches_the_binomial_definition():
    for n in range(1, 13):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(
                    float(comb_pass_at_k(n, c, k)), abs=1e-12
                )


def test_pass_at_k_is_stable_for_large_n():
    # C(2000, 1000) overflows a float; the product form does not.
    assert pass_at_k(2000, 100, 1000) == pytest.approx(float(comb_pass_at_k(2000, 100, 1000)))
    assert pass_at_k(1000, 1, 1) == pytest.approx(0.001)


@pytest.mark.parametrize("n, c, k", [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_impossible_counts(n, c, k):
    with pytest.raises(ValueError, match="pass@k"):
        pass_at_k(n, c, k)


def test_majority_vote_ties_abstentions_and_values():
    assert majority_vote(["b", "a", "a", "b"]) == 0  # 2-2 tie: "b" appeared first
    assert majority_vote(["b", "a", "a"]) == 1
    assert majority_vote([None, None, None, "7"]) == 3  # abstentions do not vote
    assert majority_vote([None, None]) == 0  # all abstain: the first completion
    assert majority_vote([[1, 2], [3], [1, 2]]) == 0  # lists compared by value
    # the voted answer's score counts (its first occurrence)
    assert maj_at_k(["5", "4", "4"], [1.0, 0.0, 0.0]) == 0.0
    with pytest.raises(ValueError):
        maj_at_k(["5"], [1.0, 0.0])


def test_pass_ks():
    assert pass_ks(1) == [1]
    assert pass_ks(3) == [1, 2, 3]
    assert pass_ks(16) == [1, 2, 4, 8, 16]


def test_k_sample_metrics_hand_computed():
    scores = [[1, 0, 1], [0, 0, 0], [1, 0.5, 1]]
    answers = [["x", "y", "x"], [None, "q", "r"], ["a", "b", "a"]]
    m = k_sample_metrics(scores, answers)
    # mean@3 = (2/3 + 0 + 2.5/3) / 3 = 1.5 / 3 = 0.5
    assert m["mean@3"] == pytest.approx(0.5)
    # correct counts (score >= 1): 2, 0, 2 (0.5 is partial credit, not a pass)
    # pass@1 = (2/3 + 0 + 2/3) / 3 = 4/9
    assert m["pass@1"] == pytest.approx(4 / 9)
    # pass@2 with c=2 of 3: 1 - C(1,2)/C(3,2) = 1 -> (1 + 0 + 1) / 3
    assert m["pass@2"] == pytest.approx(2 / 3)
    assert m["pass@3"] == pytest.approx(2 / 3)
    # maj: "x" -> 1; "q" vs "r" tie -> "q" (first) -> 0; "a" -> 1
    assert m["maj@3"] == pytest.approx(2 / 3)
    assert m["n"] == 3
    # a lower threshold counts the 0.5 as a pass: c = 2, 0, 3
    assert k_sample_metrics(scores, correct_at=0.5)["pass@1"] == pytest.approx((2 / 3 + 1) / 3)
    with pytest.raises(ValueError):
        k_sample_metrics([[1, 0], [1]])


def test_doctests():
    import doctest

    import mmrft.eval.passk
    import mmrft.eval.runner

    for module in (mmrft.eval.passk, mmrft.eval.runner):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
