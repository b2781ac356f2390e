"""The train/inference gap: the rollout engine's log-probs vs the trainer's, and its correction.

Engines sample with their own kernels (vLLM), precision and batching, so the distribution that
produced a token is not exactly the one the trainer differentiates. The gap is measured per
token and can be corrected with truncated importance sampling (TIS; Yao et al. 2025, "Your
Efficient RL Framework Secretly Brings You Off-Policy RL Training"): each token's policy loss
is weighted by ``min(pi_trainer_old / pi_rollout, C)``.

Notation: N completions, L padded length; mask [N, L] is 1 for real tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmrft.algorithms.aggregation import masked_mean


def truncated_is_weights(
    trainer_logp: Tensor, rollout_logp: Tensor, mask: Tensor, cap: float
) -> Tensor:
    """w_t = min(exp(logp_trainer_t - logp_rollout_t), cap), detached, 0 at padding.

    Args:
        trainer_logp: [N, L] log-probs of the sampled tokens under the trainer's copy of the
            rollout policy (the PPO "old" log-probs).
        rollout_logp: [N, L] the engine's own log-probs of the same tokens.
        mask: [N, L].  cap: C > 0, bounds the variance the weights can add.

    >>> m = torch.ones(1, 3)
    >>> truncated_is_weights(torch.tensor([[-1.0, -1.0, -3.0]]),
    ...                      torch.tensor([[-1.0, -2.0, -1.0]]), m, cap=2.0)
    tensor([[1.0000, 2.0000, 0.1353]])
    """
    log_w = torch.where(mask.bool(), trainer_logp - rollout_logp, 0.0).detach()  # [N, L]
    return torch.where(mask.bool(), log_w.exp().clamp(max=cap), 0.0)  # [N, L]


def mismatch_metrics(trainer_logp: Tensor, rollout_logp: Tensor, mask: Tensor) -> dict[str, float]:
    """How far apart the two log-probs are: mean/max |diff|, and k3 KL(rollout || trainer).

    >>> m = torch.tensor([[1.0, 1.0, 0.0]])
    >>> out = mismatch_metrics(torch.tensor([[-1.0, -2.0, 0.0]]),
    ...                        torch.tensor([[-1.0, -1.5, 9.0]]), m)
    >>> out["rollout/logp_abs_diff_mean"], out["rollout/logp_abs_diff_max"]
    (0.25, 0.5)
    """
    diff = torch.where(mask.bool(), trainer_logp - rollout_logp, 0.0)  # [N, L] log(pi_t / pi_r)
    k3 = diff.exp() - 1 - diff  # [N, L] KL(pi_r || pi_t) estimate on samples from pi_r
    return {
        "rollout/logp_abs_diff_mean": masked_mean(diff.abs(), mask).item(),
        "rollout/logp_abs_diff_max": (diff.abs() * mask).max().item() if mask.any() else 0.0,
        "rollout/mismatch_kl": masked_mean(k3, mask).item(),
    }
