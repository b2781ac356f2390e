"""The "math" reward: math-verify equivalence, hack cases, parity with math-verify, timeouts."""

import time

import math_verify
import pytest

from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS
from mmrft.rewards.math import MathVerifyPool, math_equal


@pytest.mark.parametrize(
    "pred, gold, equal",
    [
        ("\\frac{1}{2}", "0.5", True),
        ("\\dfrac{3}{4}", "\\frac{3}{4}", True),
        ("\\boxed{\\frac12}", "1/2", True),
        ("50\\%", "0.5", True),  # percentages
        ("50\\%", "\\frac{1}{2}", True),
        ("2^{1/2}", "\\sqrt{2}", True),
        ("1+x", "x+1", True),
        ("\\pi/2", "\\frac{\\pi}{2}", True),
        ("1,000", "1000", True),
        ("x = 3", "3", True),
        ("\\{2, 1\\}", "\\{1,2\\}", True),
        ("10\\text{ cm}", "10", True),
        ("The answer is 3", "3", True),
        ("0.33", "\\frac{1}{3}", False),
        ("33", "3", False),
        ("1, 2, 3, 4", "4", False),  # hedging with a list: a set, not the last number
        ("1, 2, 3, 4", "3", False),
        ("3 3 3 3", "3", False),  # the answer buried in a repeated string
        ("$2$ or $3$", "2", False),
        ("\\boxed{1}\\boxed{3}", "3", False),
        ("\\boxed{3", "3", False),  # unterminated
        ("", "3", False),
        ("   ", "3", False),
        (None, "3", False),
        ("garbage %%%$$\\\\", "2", False),
        ("\x00\ufffd}{", "2", False),
    ],
)
def test_math_equal(pred, gold, equal):
    assert math_equal(pred, gold) is equal


PARITY = ["\\frac{1}{2}", "0.5", "$\\sqrt{2}$", "\\boxed{3}", "x^2 + 1", "50\\%", "(1, 2)"]


@pytest.mark.parametrize("pred", PARITY)
@pytest.mark.parametrize("gold", ["$\\frac{1}{2}$", "$3$", "$\\sqrt{2}$", "$(1,2)$"])
def test_parity_with_math_verify(pred, gold):
    # On delimited inputs we add nothing: our verdict is math-verify's on the same strings.
    wrapped = pred if "$" in pred or "\\boxed" in pred else f"${pred}$"
    expected = math_verify.verify(math_verify.parse(gold), math_verify.parse(wrapped))
    assert math_equal(pred, gold) is bool(expected)


def test_math_reward_reads_only_the_answer_block():
    s = Sample(id="m", prompt="What is 1/2 + 1/4?", answer="\\frac{3}{4}")
    completions = [
        "<think>1/2 + 1/4 = 3/4</think><answer>\\frac{3}{4}</answer>",
        "<answer>0.75</answer>",
        "\\boxed{3/4}",  # no answer block
        "<answer>What is 1/2 + 1/4?</answer>",  # question echoed back
        "<answer>3/4",
        "",
    ]
    scores = REWARDS.get("math")(completions, [s] * len(completions))
    assert scores["accuracy"] == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]
    assert scores["overall"] == [1.0, 1.0, 0.0, pytest.approx(0.1), 0.0, 0.0]


def test_slow_verify_times_out(monkeypatch):
    # A comparison that would take 30 s is cut by math-verify's alarm after timeout_s = 1.
    monkeypatch.setattr(math_verify.grader, "sympy_expr_eq", lambda *a, **k: time.sleep(30))
    start = time.monotonic()
    # (gold 2/4, not 1/2: math-verify also compares the normalised strings, which needs no sympy)
    assert math_equal("0.5", "\\frac{2}{4}", timeout_s=1) is False
    assert time.monotonic() - start < 10


def _hang(args):
    time.sleep(60)  # stands for a verifier stuck where no alarm can interrupt it
    return True


class HangingPool(MathVerifyPool):
    _job = staticmethod(_hang)


@pytest.mark.parametrize("pathological", ["9^{9^{9^{9}}}", "(" * 300])
def test_pathological_input_is_cut_by_the_timeout(pathological, caplog):
    # Each runs for many seconds (or forever) unbounded; with timeout_s = 1 each parse or
    # comparison is cut after 1 s, and the worst case is about 6 of them.
    start = time.monotonic()
    assert math_equal(pathological, "2", timeout_s=1) is False
    assert time.monotonic() - start < 7


def test_pool_matches_inline_and_recovers_from_a_hang():
    preds, golds = ["0.5", "2", None, "\\sqrt{4}"], ["\\frac{1}{2}", "3", "1", "2"]
    with HangingPool(workers=1, batch_timeout_s=0.5) as hanging:
        start = time.monotonic()
        assert hanging.equal_many(["0.5"], ["\\frac{1}{2}"]) == [False]  # killed, scored 0
        assert hanging._pool is None and time.monotonic() - start < 10
    with MathVerifyPool(workers=1, batch_timeout_s=30) as pool:
        assert pool.equal_many(preds, golds) == [
            math_equal(p, g) for p, g in zip(preds, golds, strict=True)
        ]
        s = Sample(id="m", prompt="", answer="2")
        assert pool.reward(["<answer>\\sqrt{4}</answer>"], [s])["accuracy"] == [1.0]
