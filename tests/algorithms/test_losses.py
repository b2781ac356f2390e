"""Policy losses and agg_loss: hand-computed values, invariants, autograd vs hand derivations."""

from __future__ import annotations

import math

import pytest
import torch

from mmrft.algorithms.aggregation import AGG_MODES, agg_loss, masked_mean
from mmrft.algorithms.losses import POLICY_LOSSES, entropy_from_logits

T = torch.tensor
LOSSES = ["ppo_clip", "gspo", "cispo", "sapo", "pg"]
METRIC_KEYS = {
    "actor/clipfrac_low",
    "actor/clipfrac_high",
    "actor/approx_kl",
    "actor/ratio_mean",
    "actor/ratio_max",
    "actor/ratio_min",
}
E05 = math.exp(0.5)  # 1.6487


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    mask = T([[1.0, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]])  # [N=3, L=5]
    old = -torch.rand(3, 5, generator=g) * 2
    logp = (old + 0.3 * torch.randn(3, 5, generator=g)).requires_grad_(True)
    adv = T([1.0, -0.5, 2.0])
    return logp, old, adv, mask


def test_registry_names():
    assert POLICY_LOSSES.names() == sorted(LOSSES)


# ---------------------------------------------------------------- agg_loss


def test_agg_loss_modes_hand_computed():
    # real tokens: row 0 -> [1, 2, 3], row 1 -> [4]; the 99s are padding
    loss_mat = T([[1.0, 2, 3], [4, 99, 99]])
    mask = T([[1.0, 1, 1], [1, 0, 0]])
    assert agg_loss(loss_mat, mask, "token-mean").item() == pytest.approx(2.5)  # (6 + 4) / 4
    assert agg_loss(loss_mat, mask, "seq-mean-token-mean").item() == pytest.approx(
        3.0
    )  # (2 + 4) / 2
    assert agg_loss(loss_mat, mask, "seq-mean-token-sum").item() == pytest.approx(
        5.0
    )  # (6 + 4) / 2
    assert agg_loss(loss_mat, mask, "seq-mean-token-sum-norm").item() == pytest.approx(
        10 / 6
    )  # 10 / (2 * L=3)
    assert agg_loss(loss_mat, mask, "seq-mean-token-sum-norm", max_len=5).item() == pytest.approx(
        1.0
    )  # 10 / (2 * 5)


def test_agg_loss_unknown_mode_lists_valid_ones():
    with pytest.raises(ValueError, match="token-mean.*seq-mean-token-sum-norm"):
        agg_loss(torch.zeros(2, 2), torch.ones(2, 2), "sequence-mean")


@pytest.mark.parametrize("mode", AGG_MODES)
def test_agg_loss_ignores_inf_and_nan_padding(mode):
    mask = T([[1.0, 1, 0], [1, 0, 0]])
    clean = T([[1.0, 2, 0], [3, 0, 0]])
    dirty = T([[1.0, 2, float("inf")], [3, float("nan"), -float("inf")]])
    assert agg_loss(dirty, mask, mode).item() == pytest.approx(agg_loss(clean, mask, mode).item())


def test_masked_mean_of_empty_mask_is_zero():
    assert masked_mean(torch.ones(2, 3), torch.zeros(2, 3)).item() == 0.0


# ---------------------------------------------------------------- hand-computed losses


@pytest.mark.parametrize(
    ("log_ratio", "adv", "expected"),
    [
        (0.5, 1.0, -1.2),  # ratio e^0.5 = 1.6487 -> clipped to 1.2: -min(1.6487, 1.2) * 1
        (0.5, -1.0, E05),  # A < 0: -min(-1.6487, -1.2) = 1.6487 (unclipped side is the min)
        (-0.5, 1.0, -math.exp(-0.5)),  # ratio 0.6065 < 0.8: -min(0.6065, 0.8) = -0.6065
        (-0.5, -1.0, 0.8),  # A < 0: -min(-0.6065, -0.8) = 0.8 -> clipped at 1 - 0.2
    ],
)
def test_ppo_clip_hand_computed(log_ratio, adv, expected):
    loss, _ = POLICY_LOSSES.get("ppo_clip")(T([[log_ratio]]), T([[0.0]]), T([adv]), T([[1.0]]))
    assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_ppo_clip_higher_and_metrics():
    # tokens: log r = [0.5, 0.5, -0.5, -0.5], A = [+1, +1, -1, -1] per token
    logp, old = T([[0.5, 0.5, -0.5, -0.5]]), torch.zeros(1, 4)
    adv, mask = T([[1.0, 1, -1, -1]]), torch.ones(1, 4)
    loss, m = POLICY_LOSSES.get("ppo_clip")(logp, old, adv, mask, clip_low=0.2, clip_high=0.28)
    # A>0: -min(1.6487, 1.28) = -1.28 ; A<0: -min(-0.6065, -0.8) = 0.8
    torch.testing.assert_close(loss, T([[-1.28, -1.28, 0.8, 0.8]]))
    assert m["actor/clipfrac_high"] == pytest.approx(0.5)  # the two A>0 tokens with r > 1.28
    assert m["actor/clipfrac_low"] == pytest.approx(0.5)  # the two A<0 tokens with r < 0.8
    assert m["actor/ratio_max"] == pytest.approx(E05)
    assert m["actor/ratio_min"] == pytest.approx(math.exp(-0.5))
    # approx_kl = mean(r - 1 - log r) = ((1.6487 - 1.5) + (0.6065 - 0.5)) / 2 = 0.1276
    assert m["actor/approx_kl"] == pytest.approx(
        ((E05 - 1.5) + (math.exp(-0.5) - 0.5)) / 2, rel=1e-5
    )


def test_dual_clip_bounds_negative_advantage_loss():
    # log r = 1.0 -> r = e = 2.718; A = -1: standard PPO loss 2.718, dual clip c=2 caps it at 2
    logp = T([[1.0]], requires_grad=True)
    loss, m = POLICY_LOSSES.get("ppo_clip")(logp, T([[0.0]]), T([-1.0]), T([[1.0]]), dual_clip=2.0)
    assert loss.item() == pytest.approx(2.0)
    assert m["actor/clipfrac_dual"] == 1.0
    (grad,) = torch.autograd.grad(loss.sum(), logp)
    assert grad.item() == 0.0  # a capped token contributes no gradient
    plain, _ = POLICY_LOSSES.get("ppo_clip")(T([[1.0]]), T([[0.0]]), T([-1.0]), T([[1.0]]))
    assert plain.item() == pytest.approx(math.e)
    with pytest.raises(ValueError, match="dual_clip"):
        POLICY_LOSSES.get("ppo_clip")(T([[1.0]]), T([[0.0]]), T([-1.0]), T([[1.0]]), dual_clip=0.9)


def test_sapo_hand_computed():
    # r = e^0.5 = 1.6487, A = +1, tau_pos = 1: gate = sigmoid(0.6487) * 4 / 1 = 0.6567 * 4 = 2.6268
    # A = -1, tau_neg = 2: gate = sigmoid(2 * 0.6487) * 4 / 2 = 0.7854 * 2 = 1.5708 -> loss +1.5708
    loss, m = POLICY_LOSSES.get("sapo")(
        T([[0.5, 0.5]]),
        torch.zeros(1, 2),
        T([[1.0, -1.0]]),
        torch.ones(1, 2),
        tau_pos=1.0,
        tau_neg=2.0,
    )
    sig = 1 / (1 + math.exp(-(E05 - 1)))
    sig2 = 1 / (1 + math.exp(-2 * (E05 - 1)))
    torch.testing.assert_close(loss, T([[-4 * sig, 2 * sig2]]))
    assert m["actor/clipfrac_low"] == m["actor/clipfrac_high"] == 0.0


def test_pg_is_minus_ratio_times_advantage():
    loss, _ = POLICY_LOSSES.get("pg")(T([[0.5]]), T([[0.0]]), T([2.0]), T([[1.0]]))
    assert loss.item() == pytest.approx(-2 * E05)  # -r A = -1.6487 * 2


# ---------------------------------------------------------------- gradients vs hand derivations


def test_cispo_gradient_is_truncated_weight_times_advantage():
    # log r = [0.5, -0.5], clip_high = 0.2: w = [min(1.6487, 1.2), min(0.6065, 1.2)] = [1.2, 0.6065]
    # token-mean over 2 tokens of -w A logp -> d/dlogp_t = -w_t A / 2 (w is stop-grad)
    old = T([[-1.0, -1.0]])
    logp = (old + T([[0.5, -0.5]])).requires_grad_(True)
    loss_mat, m = POLICY_LOSSES.get("cispo")(logp, old, T([3.0]), torch.ones(1, 2), clip_high=0.2)
    (grad,) = torch.autograd.grad(agg_loss(loss_mat, torch.ones(1, 2), "token-mean"), logp)
    torch.testing.assert_close(grad, -T([[1.2, math.exp(-0.5)]]) * 3.0 / 2)
    assert m["actor/clipfrac_high"] == 0.5  # one of two weights truncated


def _gspo_sequence_reference(logp, old, adv, mask, clip_low, clip_high):
    """GSPO as the paper writes it: sequence ratio with its full gradient, one loss per sequence."""
    s = torch.exp(((logp - old) * mask).sum(-1) / mask.sum(-1))  # [N] s_i
    obj = torch.minimum(s * adv, s.clamp(1 - clip_low, 1 + clip_high) * adv)  # [N]
    return -obj.mean()


@pytest.mark.parametrize(
    ("clip_low", "clip_high"), [(10.0, 10.0), (0.05, 0.05)]
)  # unclipped / some clipped
def test_gspo_gradient_matches_sequence_level_paper_form(clip_low, clip_high):
    logp, old, adv, mask = _batch(1)
    loss_mat, _ = POLICY_LOSSES.get("gspo")(
        logp, old, adv, mask, clip_low=clip_low, clip_high=clip_high
    )
    (grad,) = torch.autograd.grad(agg_loss(loss_mat, mask, "seq-mean-token-mean"), logp)
    ref = _gspo_sequence_reference(logp, old, adv, mask, clip_low, clip_high)
    (ref_grad,) = torch.autograd.grad(ref, logp)
    torch.testing.assert_close(grad, ref_grad)
    if clip_low == 10.0:
        # hand derivation: d/dlogp_it of -1/N sum_i s_i A_i = -A_i s_i / (N |o_i|) on real tokens
        s = torch.exp(((logp - old) * mask).sum(-1) / mask.sum(-1)).detach()
        hand = -(adv * s / (3 * mask.sum(-1)))[:, None] * mask
        torch.testing.assert_close(grad, hand)


def test_gspo_token_values_equal_sequence_ratio():
    logp, old, adv, mask = _batch(2)
    _, m = POLICY_LOSSES.get("gspo")(logp, old, adv, mask, clip_low=10.0, clip_high=10.0)
    s = torch.exp(((logp - old) * mask).sum(-1) / mask.sum(-1))
    assert m["actor/ratio_max"] == pytest.approx(s.max().item())
    assert m["actor/ratio_min"] == pytest.approx(s.min().item())


# ---------------------------------------------------------------- invariants


@pytest.mark.parametrize("mode", AGG_MODES)
@pytest.mark.parametrize("name", LOSSES)
def test_on_policy_gradient_is_reinforce(name, mode):
    # first update: old_logp == logp, ratio == 1, and every loss's gradient is -A grad log pi
    logp, _, adv, mask = _batch(3)
    loss_mat, m = POLICY_LOSSES.get(name)(logp, logp.detach(), adv, mask)
    assert m["actor/ratio_mean"] == m["actor/ratio_max"] == m["actor/ratio_min"] == 1.0
    assert (
        m["actor/approx_kl"] == 0.0 and m["actor/clipfrac_low"] == m["actor/clipfrac_high"] == 0.0
    )
    (grad,) = torch.autograd.grad(agg_loss(loss_mat, mask, mode), logp)
    (ref,) = torch.autograd.grad(agg_loss(-adv[:, None] * logp, mask, mode), logp)
    torch.testing.assert_close(grad, ref)


def test_on_policy_clipped_equals_unclipped():
    logp, _, adv, mask = _batch(4)
    clipped, _ = POLICY_LOSSES.get("ppo_clip")(
        logp, logp.detach(), adv, mask, clip_low=0.1, clip_high=0.1
    )
    plain, _ = POLICY_LOSSES.get("pg")(logp, logp.detach(), adv, mask)
    torch.testing.assert_close(clipped, plain)
    torch.testing.assert_close(
        agg_loss(clipped, mask, "token-mean"), agg_loss(-adv[:, None] * 1.0, mask, "token-mean")
    )


@pytest.mark.parametrize("mode", AGG_MODES)
@pytest.mark.parametrize("name", LOSSES)
def test_padding_never_affects_loss_or_gradient(name, mode):
    logp, old, _, mask = _batch(5)
    adv = torch.randn(3, 5, generator=torch.Generator().manual_seed(0))  # token-level advantages
    pad = ~mask.bool()
    outs = []
    for fill in (0.0, "garbage"):
        lp, o, a = logp.detach().clone(), old.clone(), adv.clone()
        if fill == "garbage":  # -inf log-probs, huge and NaN advantages at padding
            lp[pad], o[pad], a[pad] = -float("inf"), 1e4, float("nan")
        lp.requires_grad_(True)
        loss_mat, metrics = POLICY_LOSSES.get(name)(lp, o, a, mask)
        loss = agg_loss(loss_mat, mask, mode)
        (grad,) = torch.autograd.grad(loss, lp)
        outs.append((loss.detach(), grad, metrics))
    (l0, g0, m0), (l1, g1, m1) = outs
    assert torch.isfinite(l1) and torch.isfinite(g1).all()
    torch.testing.assert_close(l0, l1)
    torch.testing.assert_close(g0, g1)
    assert (g1[pad] == 0).all()
    assert m0 == pytest.approx(m1)


@pytest.mark.parametrize("name", LOSSES)
def test_metrics_are_namespaced_floats(name):
    logp, old, adv, mask = _batch(6)
    _, metrics = POLICY_LOSSES.get(name)(logp, old, adv, mask)
    assert set(metrics) >= METRIC_KEYS
    assert all(isinstance(v, float) and k.startswith("actor/") for k, v in metrics.items())


@pytest.mark.parametrize("name", LOSSES)
def test_sequence_and_broadcast_token_advantages_agree(name):
    logp, old, adv, mask = _batch(7)
    a, _ = POLICY_LOSSES.get(name)(logp, old, adv, mask)
    b, _ = POLICY_LOSSES.get(name)(logp, old, adv[:, None].expand(3, 5), mask)
    torch.testing.assert_close(a * mask, b * mask)


def test_losses_reject_mismatched_advantages():
    logp, old, _, mask = _batch()
    with pytest.raises(ValueError, match="advantages"):
        POLICY_LOSSES.get("ppo_clip")(logp, old, torch.zeros(3, 4), mask)


# ---------------------------------------------------------------- entropy


def test_entropy_uniform_and_peaked():
    uniform = torch.zeros(2, 3, 8)  # H = log 8 = 2.0794
    torch.testing.assert_close(entropy_from_logits(uniform), torch.full((2, 3), math.log(8)))
    peaked = torch.tensor([[[100.0, 0.0, 0.0]]])  # all mass on one token -> H ~ 0
    assert entropy_from_logits(peaked).item() == pytest.approx(0.0, abs=1e-6)
