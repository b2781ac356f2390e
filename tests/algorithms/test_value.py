"""Critic math: token rewards, the clipped value loss, explained variance, the gae estimator."""

from __future__ import annotations

import doctest

import pytest
import torch

import mmrft.algorithms.value as value_mod
from mmrft.algorithms.advantages import ADV_ESTIMATORS, gae_advantages
from mmrft.algorithms.value import (
    explained_variance,
    last_token_index,
    token_level_rewards,
    value_loss,
)


def test_doctests():
    assert doctest.testmod(value_mod).failed == 0


def test_token_rewards_put_outcome_on_last_real_token_and_kl_everywhere():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    kl = torch.tensor([[0.1, 0.2, 0.3, 5.0], [0.4, 7.0, 7.0, 7.0]])
    out = token_level_rewards(torch.tensor([1.0, -1.0]), mask, kl, kl_coef=0.5)
    # row 0: [-0.05, -0.1, 1 - 0.15, pad 0]; row 1: [-1 - 0.2, pad...]
    expected = torch.tensor([[-0.05, -0.1, 0.85, 0.0], [-1.2, 0.0, 0.0, 0.0]])
    assert torch.allclose(out, expected)
    assert last_token_index(mask).tolist() == [2, 0]


def test_value_loss_clipped_by_hand():
    v = torch.tensor([[1.0, 0.0, 2.0]])
    old = torch.tensor([[0.0, 0.0, 0.0]])
    ret = torch.tensor([[2.0, 1.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0]])
    loss, m = value_loss(v, old, ret, mask, clip=0.5)
    # t0: unclipped (1-2)^2=1, clipped v=0.5 -> (0.5-2)^2=2.25 -> max 2.25 -> /2 = 1.125
    # t1: v=old=0 -> (0-1)^2 = 1 both -> 0.5
    # t2: unclipped (2-0)^2=4, clipped 0.5 -> 0.25 -> max 4 -> 2.0
    assert torch.allclose(loss, torch.tensor([[1.125, 0.5, 2.0]]))
    assert m["critic/clipfrac"] == pytest.approx(1 / 3)  # only t0 takes the clipped branch
    plain, _ = value_loss(v, old, ret, mask, clip=None)
    assert torch.allclose(plain, torch.tensor([[0.5, 0.5, 2.0]]))


def test_value_loss_gradient_is_zero_where_the_clipped_branch_wins():
    v = torch.tensor([[1.0, 0.2]], requires_grad=True)
    loss, _ = value_loss(
        v, torch.zeros(1, 2), torch.tensor([[2.0, 1.0]]), torch.ones(1, 2), clip=0.5
    )
    loss.sum().backward()
    # t0: clipped branch (constant 0.5) wins -> no gradient; t1: unclipped, d/dv 0.5(v-1)^2 = -0.8
    assert torch.allclose(v.grad, torch.tensor([[0.0, -0.8]]))


def test_explained_variance_ignores_padding():
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    r = torch.tensor([[0.0, 2.0, 99.0]])
    assert explained_variance(r.clone(), r, mask) == pytest.approx(1.0)
    assert explained_variance(torch.tensor([[1.0, 1.0, -50.0]]), r, mask) == pytest.approx(0.0)


def test_gae_estimator_is_gae_on_token_rewards():
    torch.manual_seed(0)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    values, kl = torch.randn(2, 3), torch.rand(2, 3)
    rewards = torch.tensor([1.0, 0.0])
    adv, ret = ADV_ESTIMATORS.get("gae")(
        rewards, 1, values=values, mask=mask, gamma=0.9, lam=0.8, token_kl=kl, kl_coef=0.1
    )
    tok = token_level_rewards(rewards, mask, kl, 0.1)
    ref_adv, ref_ret = gae_advantages(tok, values, mask, gamma=0.9, lam=0.8)
    assert torch.allclose(adv, ref_adv) and torch.allclose(ret, ref_ret)
    # gamma = lam = 1, no KL: the return of every token is the outcome reward (Monte Carlo)
    _, mc = ADV_ESTIMATORS.get("gae")(rewards, 1, values=values, mask=mask, gamma=1.0, lam=1.0)
    assert torch.allclose(mc, torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]), atol=1e-6)
