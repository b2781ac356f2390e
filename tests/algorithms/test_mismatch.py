"""Train/inference gap: TIS weights and the logged gap."""

from __future__ import annotations

import doctest

import torch

import mmrft.algorithms.mismatch as mismatch_mod
from mmrft.algorithms.mismatch import mismatch_metrics, truncated_is_weights


def test_doctests():
    assert doctest.testmod(mismatch_mod).failed == 0


def test_equal_logprobs_give_unit_weights_and_no_gap():
    logp = torch.randn(3, 4)
    mask = torch.tensor([[1.0, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]])
    w = truncated_is_weights(logp, logp.clone(), mask, cap=2.0)
    assert torch.equal(w, mask)  # 1 on real tokens, 0 on padding
    gap = mismatch_metrics(logp, logp.clone(), mask)
    assert gap["rollout/logp_abs_diff_max"] == 0 and gap["rollout/mismatch_kl"] == 0


def test_weights_are_capped_detached_and_ignore_padding_garbage():
    trainer = torch.tensor([[0.0, -1.0, 5.0]], requires_grad=True)
    rollout = torch.tensor([[-3.0, -1.5, float("nan")]])
    w = truncated_is_weights(trainer, rollout, torch.tensor([[1.0, 1.0, 0.0]]), cap=2.0)
    # exp(3) = 20.1 -> capped at 2; exp(0.5) = 1.6487; padding (NaN there) -> 0
    assert torch.allclose(w, torch.tensor([[2.0, 1.6487, 0.0]]), atol=1e-4)
    assert not w.requires_grad


def test_mismatch_kl_is_k3_by_hand():
    # diff = log(pi_t / pi_r) = -0.5 -> k3 = e^-0.5 - 1 + 0.5 = 0.10653
    gap = mismatch_metrics(torch.tensor([[-1.5]]), torch.tensor([[-1.0]]), torch.ones(1, 1))
    assert abs(gap["rollout/mismatch_kl"] - 0.10653) < 1e-4
