"""Preference losses: hand-computed values (arithmetic in comments), gradients, invariants."""

from __future__ import annotations

import math

import pytest
import torch

from mmrft.algorithms.preference import PREFERENCE_LOSSES

T = torch.tensor
METRIC_KEYS = {
    "dpo/chosen_reward",
    "dpo/rejected_reward",
    "dpo/reward_margin",
    "dpo/reward_accuracy",
    "dpo/logps_chosen",
    "dpo/logps_rejected",
}


def _call(name, pc, pr, rc, rr, nc, nr, **opts):
    as_t = lambda x: None if x is None else T(x, dtype=torch.float64)  # noqa: E731
    return PREFERENCE_LOSSES.get(name)(
        as_t(pc), as_t(pr), as_t(rc), as_t(rr), as_t(nc), as_t(nr), **opts
    )


def test_registry_names_and_needs():
    assert PREFERENCE_LOSSES.names() == ["dpo", "ipo", "orpo", "simpo"]
    needs_ref = {
        n for n in PREFERENCE_LOSSES.names() if "reference" in PREFERENCE_LOSSES.entry(n).needs
    }
    assert needs_ref == {"dpo", "ipo"}  # SimPO and ORPO are reference-free


def test_dpo_hand_computed():
    # pair 0: h = (-1 - -2) - (-3 - -2) = 1 + 1 = 2; beta h = 1 -> -log sigma(1) = log(1 + e^-1)
    # pair 1: h = (-4 - -3) - (-1 - -1) = -1;       beta h = -0.5 -> log(1 + e^0.5)
    loss, m = _call("dpo", [-1, -4], [-3, -1], [-2, -3], [-2, -1], [3, 3], [3, 3], beta=0.5)
    assert loss.tolist() == pytest.approx([math.log1p(math.exp(-1)), math.log1p(math.exp(0.5))])
    assert loss.tolist() == pytest.approx([0.3132617, 0.9740770])
    assert set(m) == METRIC_KEYS
    # rewards beta * (pi - ref): chosen [0.5, -0.5], rejected [-0.5, 0.0]
    assert m["dpo/chosen_reward"] == pytest.approx(0.0)  # (0.5 - 0.5) / 2
    assert m["dpo/rejected_reward"] == pytest.approx(-0.25)  # (-0.5 + 0) / 2
    assert m["dpo/reward_margin"] == pytest.approx(0.25)  # (1.0 + -0.5) / 2
    assert m["dpo/reward_accuracy"] == pytest.approx(0.5)  # pair 0 only
    assert m["dpo/logps_chosen"] == pytest.approx(-2.5)  # (-1 - 4) / 2


def test_dpo_gradient_hand_computed():
    # dl/dpi_c = -beta * sigma(-beta h); dl/dpi_r = +beta * sigma(-beta h); h = 2, beta = 0.5
    pc = T([-1.0], requires_grad=True)
    pr = T([-3.0], requires_grad=True)
    loss, _ = PREFERENCE_LOSSES.get("dpo")(
        pc, pr, T([-2.0]), T([-2.0]), T([1.0]), T([1.0]), beta=0.5
    )
    loss.sum().backward()
    s = 1 / (1 + math.exp(1))  # sigma(-1) = 0.268941
    assert pc.grad.item() == pytest.approx(-0.5 * s)
    assert pr.grad.item() == pytest.approx(0.5 * s)


def test_dpo_at_reference_is_log2_and_needs_reference():
    # pi == ref -> h = 0 -> -log sigma(0) = log 2, whatever beta
    loss, m = _call("dpo", [-5, -1], [-2, -7], [-5, -1], [-2, -7], [1, 1], [1, 1], beta=3.0)
    assert loss.tolist() == pytest.approx([math.log(2)] * 2)
    assert m["dpo/reward_accuracy"] == 0.0  # ties are not "correct"
    with pytest.raises(ValueError, match="reference"):
        _call("dpo", [-1], [-2], None, None, [1], [1])


def test_ipo_hand_computed():
    # beta (tau) = 0.25 -> target 1 / (2 * 0.25) = 2
    # pair 0: chosen ratio (-2 - -6) / 2 tokens = 2; rejected (-3 - -3) / 3 = 0; gap 2 -> (2-2)^2 = 0
    # pair 1: chosen (-6 - -6) / 4 = 0; rejected (-1 - -4) / 1 = 3; gap -3 -> (-3 - 2)^2 = 25
    loss, m = _call("ipo", [-2, -6], [-3, -1], [-6, -6], [-3, -4], [2, 4], [3, 1], beta=0.25)
    assert loss.tolist() == pytest.approx([0.0, 25.0])
    # rewards beta * summed ratio: chosen [1.0, 0.0], rejected [0.0, 0.75]
    assert m["dpo/reward_margin"] == pytest.approx((1.0 + -0.75) / 2)
    assert m["dpo/reward_accuracy"] == pytest.approx(0.5)


def test_ipo_zero_token_count_is_clamped_to_one():
    # n = 0 would divide by zero; it counts as 1: gap (1 - 0) / 1 - 0 = 1, target 1/(2*0.5) = 1
    loss, _ = _call("ipo", [0], [-1], [-1], [-1], [0], [2], beta=0.5)
    assert loss.tolist() == pytest.approx([0.0])


def test_simpo_hand_computed_and_reference_free():
    # beta = 2, gamma = 1: chosen reward 2 * -2 / 4 = -1; rejected 2 * -6 / 3 = -4
    # margin 3 - gamma 1 = 2 -> -log sigma(2) = log(1 + e^-2) = 0.126928
    loss, m = _call("simpo", [-2], [-6], None, None, [4], [3], beta=2.0, gamma=1.0)
    assert loss.tolist() == pytest.approx([math.log1p(math.exp(-2))])
    assert m["dpo/chosen_reward"] == pytest.approx(-1.0)
    assert m["dpo/rejected_reward"] == pytest.approx(-4.0)
    assert m["dpo/reward_margin"] == pytest.approx(3.0)
    # a reference, when given, changes nothing
    with_ref, _ = _call("simpo", [-2], [-6], [-9], [0], [4], [3], beta=2.0, gamma=1.0)
    assert with_ref.tolist() == pytest.approx(loss.tolist())


def test_orpo_hand_computed():
    # a_c = 2 log 0.5 / 2 = log 0.5 (P = 1/2, odds 1); a_r = 3 log 0.25 / 3 = log 0.25 (odds 1/3)
    # log OR = log(1 / (1/3)) = log 3; log sigma(log 3) = log(3 / 4)
    # loss = NLL + odds term = log 2 - 0.1 * log 0.75 = 0.693147 + 0.028768 = 0.721915
    loss, m = _call(
        "orpo", [2 * math.log(0.5)], [3 * math.log(0.25)], None, None, [2], [3], lam=0.1
    )
    assert loss.tolist() == pytest.approx([math.log(2) - 0.1 * math.log(0.75)])
    assert loss.item() == pytest.approx(0.721915, abs=1e-6)
    assert m["dpo/log_odds_ratio"] == pytest.approx(math.log(3))
    assert m["dpo/nll"] == pytest.approx(math.log(2))
    assert m["dpo/reward_margin"] == pytest.approx(math.log(0.5) - math.log(0.25))


def test_orpo_stable_near_certainty():
    # a completion the policy is sure of (a_c = 0) and a near-impossible one: finite loss
    loss, _ = _call("orpo", [0.0], [-80.0], None, None, [4], [2], lam=0.1)
    assert torch.isfinite(loss).all()
    assert loss.item() == pytest.approx(0.0, abs=1e-5)  # NLL 0, log sigma(huge) ~ 0


@pytest.mark.parametrize("name", ["dpo", "ipo", "simpo", "orpo"])
def test_better_chosen_lowers_loss(name):
    # raising the chosen completion's log-prob (all else fixed) never raises the loss here
    base = _call(name, [-6, -6], [-3, -5], [-4, -4], [-4, -4], [3, 3], [3, 3])[0]
    better = _call(name, [-3, -3], [-3, -5], [-4, -4], [-4, -4], [3, 3], [3, 3])[0]
    assert (better < base).all()
