"""Per-token KL estimators and KL-coefficient controllers.

Design note: the estimators are Schulman's single-sample approximations of
KL(pi_theta || pi_ref) from tokens sampled by pi_theta (http://joschu.net/blog/kl-approx.html).
With ``log_r = ref_logp - logp``:

    k1 = -log_r                   unbiased, high variance, can be negative
    k2 = 0.5 * log_r^2            biased, low variance, always >= 0
    k3 = exp(log_r) - log_r - 1   unbiased, low variance, always >= 0 (GRPO / TRL default)

They return a per-token matrix; the training loop adds ``kl_coef * agg_loss(kl_mat, mask, mode)``
to the policy loss (or folds k1 into the reward for REINFORCE++), so no estimator reduces.

Notation:
    N: number of completions; L: padded completion length.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from mmrft.registry import Registry

KLEstimator = Callable[[Tensor, Tensor], Tensor]
KL_ESTIMATORS: Registry[KLEstimator] = Registry("kl_estimator")


@KL_ESTIMATORS.register("k1")
def kl_k1(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """k1 = log pi(x) - log pi_ref(x).  logp, ref_logp: [N, L] -> [N, L]."""
    return logp - ref_logp  # [N, L]


@KL_ESTIMATORS.register("k2")
def kl_k2(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """k2 = 0.5 * (log pi - log pi_ref)^2.  logp, ref_logp: [N, L] -> [N, L]."""
    return 0.5 * (logp - ref_logp) ** 2  # [N, L]


@KL_ESTIMATORS.register("k3")
def kl_k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """k3 = exp(ref - logp) - (ref - logp) - 1.  logp, ref_logp: [N, L] -> [N, L].

    Same formula as TRL's GRPO ``per_token_kl`` (no clamping, so values match exactly).
    """
    log_r = ref_logp - logp  # [N, L] log(pi_ref / pi)
    return log_r.exp() - log_r - 1  # [N, L] r - log r - 1, joschu.net/blog/kl-approx.html


class FixedKLController:
    """A constant KL coefficient (config ``algorithm.kl_coef``)."""

    def __init__(self, beta: float) -> None:
        self.value = float(beta)

    def update(self, current_kl: float, n_steps: int) -> None:
        """No-op; present so the loop can treat both controllers alike."""


class AdaptiveKLController:
    """Adaptive KL coefficient of Ziegler et al. 2019 (arXiv:1909.08593, section 2.2).

    e_t = clip(KL_t / target - 1, -0.2, 0.2);  beta_{t+1} = beta_t * (1 + e_t * n_steps / horizon).
    beta grows while the measured KL is above ``target`` and shrinks below it; the clip bounds
    the change per update to 20% * n_steps / horizon.
    """

    def __init__(self, init_beta: float, target: float, horizon: float) -> None:
        if target <= 0 or horizon <= 0:
            raise ValueError(f"target and horizon must be > 0, got {target=}, {horizon=}")
        self.value = float(init_beta)
        self.target = float(target)
        self.horizon = float(horizon)

    def update(self, current_kl: float, n_steps: int) -> None:
        """Move ``value`` towards keeping ``current_kl`` at ``target``; n_steps = samples seen."""
        error = float(np.clip(current_kl / self.target - 1.0, -0.2, 0.2))  # proportional error
        self.value *= 1.0 + error * n_steps / self.horizon


def kl_penalized_rewards(
    rewards: Tensor, logp: Tensor, ref_logp: Tensor, mask: Tensor, kl_coef: float
) -> Tensor:
    """Fold the KL into the outcome reward, REINFORCE++ style: r - beta * sum_t k1_t.

    rewards [N], logp/ref_logp/mask [N, L] (logp from the rollout policy) -> [N]. Padding ignored.

    >>> import torch
    >>> r = torch.tensor([1.0]); m = torch.tensor([[1.0, 1.0, 0.0]])
    >>> lp = torch.tensor([[-1.0, -2.0, 9.0]]); ref = torch.tensor([[-1.5, -2.5, 0.0]])
    >>> kl_penalized_rewards(r, lp, ref, m, 0.1)  # k1 sum = 0.5 + 0.5 = 1 -> 1 - 0.1
    tensor([0.9000])
    """
    k1 = torch.where(mask.bool(), logp - ref_logp, torch.zeros_like(logp))  # [N, L]
    return rewards - kl_coef * k1.sum(dim=1)  # [N]
