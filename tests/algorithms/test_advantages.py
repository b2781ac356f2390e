"""Advantage estimators: hand-computed values, invariants, and brute-force references."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from mmrft.algorithms.advantages import (
    ADV_ESTIMATORS,
    dr_grpo_advantages,
    gae_advantages,
    grpo_advantages,
    passk_advantages,
    reinforce_pp_advantages,
    remax_advantages,
    rloo_advantages,
)

T = torch.tensor


def test_registry_names():
    assert ADV_ESTIMATORS.names() == sorted(
        ["grpo", "dr_grpo", "rloo", "reinforce_pp", "remax", "grpo_passk", "gae"]
    )
    assert ADV_ESTIMATORS.get("grpo") is grpo_advantages


def test_grpo_hand_computed():
    # group 0: r = [1, 0, 0, 0], mean = 0.25
    #   unbiased var = (0.75^2 + 3 * 0.25^2) / 3 = 0.75 / 3 = 0.25 -> std = 0.5
    #   A = [0.75, -0.25, -0.25, -0.25] / 0.5 = [1.5, -0.5, -0.5, -0.5]
    # group 1: r = [1, 1, 1, 1] -> std = 0 -> A = 0 / eps = 0 (not NaN)
    adv = grpo_advantages(T([1.0, 0, 0, 0, 1, 1, 1, 1]), 4)
    torch.testing.assert_close(adv, T([1.5, -0.5, -0.5, -0.5, 0, 0, 0, 0]), atol=1e-5, rtol=0)


def test_grpo_without_std_is_dr_grpo():
    r = torch.randn(12)
    torch.testing.assert_close(grpo_advantages(r, 3, norm_by_std=False), dr_grpo_advantages(r, 3))


@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo"])
@pytest.mark.parametrize("group_size", [2, 3, 8])
def test_group_baselines_sum_to_zero_per_group(name, group_size):
    r = torch.randn(4 * group_size, generator=torch.Generator().manual_seed(group_size))
    adv = ADV_ESTIMATORS.get(name)(r, group_size)
    torch.testing.assert_close(adv.view(-1, group_size).sum(1), torch.zeros(4), atol=1e-5, rtol=0)


@pytest.mark.parametrize("value", [0.7, 0.1, 1 / 3])
@pytest.mark.parametrize("group_size", [3, 8])
@pytest.mark.parametrize("name", ["grpo", "dr_grpo", "rloo", "reinforce_pp"])
def test_all_equal_rewards_give_exact_zero(name, group_size, value):
    # float rounding in the mean must not leak: 1e-8 residue / (1e-8 std + 1e-6) would be ~0.01
    adv = ADV_ESTIMATORS.get(name)(torch.full((2 * group_size,), value), group_size)
    assert (adv == 0).all()


def test_advantages_are_detached():
    r = torch.randn(8, requires_grad=True)
    assert not grpo_advantages(r, 4).requires_grad
    assert not passk_advantages(r, 4, k=2).requires_grad


def test_rloo_hand_computed():
    # r = [1, 0, 0]: baselines = [(0+0)/2, (1+0)/2, (1+0)/2] = [0, 0.5, 0.5]
    # A = [1 - 0, 0 - 0.5, 0 - 0.5] = [1, -0.5, -0.5]   (= 3/2 * (r - 1/3))
    torch.testing.assert_close(rloo_advantages(T([1.0, 0, 0]), 3), T([1.0, -0.5, -0.5]))


def test_reinforce_pp_global_whitening():
    # r = [0, 1, 2, 3]: mean 1.5, unbiased std = sqrt((2.25 + 0.25) * 2 / 3) = sqrt(5/3) = 1.2910
    adv = reinforce_pp_advantages(T([0.0, 1, 2, 3]), 2)
    torch.testing.assert_close(adv, T([-1.5, -0.5, 0.5, 1.5]) / math.sqrt(5 / 3), atol=1e-5, rtol=0)


@pytest.mark.parametrize("baseline", [T([0.5, 1.0]), T([0.5, 0.5, 1.0, 1.0])])
def test_remax_baseline_per_prompt_or_per_completion(baseline):
    # prompt 0 greedy reward 0.5, prompt 1 greedy reward 1.0
    adv = remax_advantages(T([1.0, 0.0, 1.0, 0.0]), 2, baseline_rewards=baseline)
    torch.testing.assert_close(adv, T([0.5, -0.5, 0.0, -1.0]))


def test_remax_rejects_wrong_baseline_size():
    with pytest.raises(ValueError, match="baseline_rewards"):
        remax_advantages(torch.zeros(6), 2, baseline_rewards=torch.zeros(4))


@pytest.mark.parametrize("bad", [(torch.zeros(7), 2), (torch.zeros(6), 1), (torch.zeros(2, 3), 3)])
def test_grpo_rejects_bad_layout(bad):
    with pytest.raises(ValueError):
        grpo_advantages(*bad)


def _passk_verl(r: torch.Tensor) -> torch.Tensor:
    """verl/EasyR1 grpo_passk (norm off): best sample of the group gets r_max - r_second."""
    out = torch.zeros_like(r)
    top, idx = torch.topk(r, 2)
    out[idx[0]] = top[0] - top[1]
    return out


def _passk_brute(r: torch.Tensor, k: int) -> torch.Tensor:
    """Enumerate all k-subsets containing i: mean of max(S) - max(S minus i)."""
    g = len(r)
    out = torch.zeros(g)
    for i in range(g):
        gains = []
        for rest in itertools.combinations([j for j in range(g) if j != i], k - 1):
            gains.append(
                max(r[i].item(), *(r[j].item() for j in rest)) - max(r[j].item() for j in rest)
            )
        out[i] = sum(gains) / len(gains)
    return out


def test_passk_k_equals_group_is_verl_grpo_passk():
    # r = [0.2, 0.9, 0.5, 0.9 -> tie] and [0.1, 0.7, 0.3, 0.0]
    # group 0: best two are tied at 0.9 -> all zero; group 1: A[1] = 0.7 - 0.3 = 0.4
    r = T([0.2, 0.9, 0.5, 0.9, 0.1, 0.7, 0.3, 0.0])
    adv = passk_advantages(r, 4, k=4, norm_by_std=False)
    torch.testing.assert_close(adv, T([0.0, 0, 0, 0, 0, 0.4, 0, 0]))
    g = torch.Generator().manual_seed(0)
    r = torch.rand(5 * 6, generator=g)
    expected = torch.cat([_passk_verl(grp) for grp in r.view(5, 6)])
    torch.testing.assert_close(passk_advantages(r, 6, k=6, norm_by_std=False), expected)


def test_passk_std_scaling_matches_verl_default():
    r = T([1.0, 0.0, 0.0, 0.0])  # std 0.5 (see grpo test) -> A[0] = (1 - 0) / 0.5 = 2
    torch.testing.assert_close(passk_advantages(r, 4, k=4), T([2.0, 0, 0, 0]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_passk_matches_subset_enumeration(k):
    r = (
        torch.randint(0, 3, (2 * 5,), generator=torch.Generator().manual_seed(k)).float() / 2
    )  # ties
    expected = torch.cat([_passk_brute(grp, k) for grp in r.view(2, 5)])
    torch.testing.assert_close(passk_advantages(r, 5, k=k, norm_by_std=False), expected)


def test_passk_k2_hand_computed():
    # k = 2: A_i = mean_{j != i} max(r_i - r_j, 0); r = [1, 1, 0] -> [(0 + 1)/2, (0 + 1)/2, 0]
    torch.testing.assert_close(
        passk_advantages(T([1.0, 1, 0]), 3, k=2, norm_by_std=False), T([0.5, 0.5, 0])
    )


def test_passk_rejects_bad_k():
    with pytest.raises(ValueError, match="k"):
        passk_advantages(torch.zeros(4), 4, k=5)


def _gae_reference(rewards, values, gamma, lam):
    """Textbook GAE for one unpadded trajectory (Python floats)."""
    adv, last, next_v = [], 0.0, 0.0
    for r, v in zip(reversed(rewards), reversed(values), strict=True):
        last = r + gamma * next_v - v + gamma * lam * last
        next_v = v
        adv.append(last)
    return adv[::-1]


def test_gae_hand_computed():
    # one sequence, L = 2, r = [0, 1], V = [0.5, 0.5], gamma = 1, lam = 1
    # delta_1 = 1 + 0 - 0.5 = 0.5; delta_0 = 0 + 0.5 - 0.5 = 0
    # A_1 = 0.5; A_0 = 0 + 0.5 = 0.5; returns = A + V = [1, 1]
    adv, ret = gae_advantages(
        T([[0.0, 1.0]]), T([[0.5, 0.5]]), torch.ones(1, 2), gamma=1.0, lam=1.0, whiten=False
    )
    torch.testing.assert_close(adv, T([[0.5, 0.5]]))
    torch.testing.assert_close(ret, T([[1.0, 1.0]]))


def test_gae_ignores_padding_and_matches_reference():
    g = torch.Generator().manual_seed(0)
    rewards, values = torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g)
    mask = T([[1.0, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    adv, ret = gae_advantages(rewards, values, mask, gamma=0.9, lam=0.8, whiten=False)
    for i, n in enumerate([5, 3]):
        ref = _gae_reference(rewards[i, :n].tolist(), values[i, :n].tolist(), 0.9, 0.8)
        torch.testing.assert_close(adv[i, :n], T(ref))
    assert (adv[1, 3:] == 0).all() and (ret[1, 3:] == 0).all()
    garbage_r, garbage_v = rewards.clone(), values.clone()
    garbage_r[1, 3:], garbage_v[1, 3:] = 1e6, -1e6  # padding content must not matter
    adv2, ret2 = gae_advantages(garbage_r, garbage_v, mask, gamma=0.9, lam=0.8)
    adv1, ret1 = gae_advantages(rewards, values, mask, gamma=0.9, lam=0.8)
    torch.testing.assert_close(adv1, adv2)
    torch.testing.assert_close(ret1, ret2)


def test_gae_whitened_has_zero_mean_unit_std_over_real_tokens():
    g = torch.Generator().manual_seed(1)
    mask = T([[1.0, 1, 1, 1], [1, 1, 0, 0]])
    adv, _ = gae_advantages(
        torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g), mask, gamma=1.0, lam=0.95
    )
    real = adv[mask.bool()]
    assert real.mean().abs() < 1e-5 and (real.std() - 1).abs() < 1e-4
