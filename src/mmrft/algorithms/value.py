"""Critic math for PPO with GAE: token-level rewards, the clipped value loss, explained variance.

Notation: N completions, L padded completion length; mask [N, L] is 1 for real tokens.
``values[:, t]`` is the critic's V(s_t), the value of the state *before* completion token t
(read from the same hidden state whose logits predict token t).
"""

from __future__ import annotations

import torch
from torch import Tensor

from mmrft.algorithms.aggregation import masked_mean


def last_token_index(mask: Tensor) -> Tensor:
    """Index [N] of each row's last real token (0 for an all-padding row).

    >>> last_token_index(torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]))
    tensor([1, 2, 0])
    """
    positions = torch.arange(mask.shape[1], device=mask.device)  # [L]
    return (mask.bool() * positions).amax(dim=1)  # [N]


def token_level_rewards(
    rewards: Tensor, mask: Tensor, token_kl: Tensor | None = None, kl_coef: float = 0.0
) -> Tensor:
    """Outcome reward on each row's last real token, minus a per-token KL penalty.

    r_t = -kl_coef * kl_t + [t == T] * R  (the RLHF/verl shaping: the KL is paid where it is
    incurred, so the critic sees it token by token, not summed into the outcome).

    Args:
        rewards: [N] outcome rewards.  mask: [N, L].
        token_kl: [N, L] per-token KL estimate of the rollout policy against the reference
            (k1 = logp - ref_logp), or None.

    Returns:
        [N, L] token rewards, 0 at padding.

    >>> m = torch.tensor([[1.0, 1.0, 0.0]])
    >>> token_level_rewards(torch.tensor([2.0]), m, torch.tensor([[0.5, 1.0, 9.0]]), 0.1)
    tensor([[-0.0500,  1.9000,  0.0000]])
    """
    out = torch.zeros_like(mask, dtype=rewards.dtype)  # [N, L]
    out.scatter_(1, last_token_index(mask).unsqueeze(1), rewards.unsqueeze(1))  # R at t = T
    if token_kl is not None and kl_coef:
        out = out - kl_coef * token_kl  # [N, L]
    return torch.where(mask.bool(), out, torch.zeros_like(out))  # [N, L]


def value_loss(
    values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, *, clip: float | None
) -> tuple[Tensor, dict[str, float]]:
    """PPO's clipped value loss, per token.

    l_t = 1/2 * max((V_t - R_t)^2, (clip(V_t, V_old_t - c, V_old_t + c) - R_t)^2)
    (Schulman et al. 2017; the max keeps the critic from moving far from the rollout-time values
    in one batch). ``clip=None`` is the plain squared error.

    Args:
        values: [N, L] current critic values (with grad).
        old_values: [N, L] values at rollout time (detached).
        returns: [N, L] GAE returns (targets).
        mask: [N, L].

    Returns:
        ``(loss_mat [N, L], metrics)``; aggregate ``loss_mat`` with ``agg_loss``.
    """
    loss_mat = (values - returns) ** 2  # [N, L]
    metrics = {"critic/vpred_mean": masked_mean(values.detach(), mask).item()}
    if clip is not None:
        clipped = old_values + (values - old_values).clamp(-clip, clip)  # [N, L]
        clipped_loss = (clipped - returns) ** 2  # [N, L]
        metrics["critic/clipfrac"] = masked_mean((clipped_loss > loss_mat).float(), mask).item()
        loss_mat = torch.maximum(loss_mat, clipped_loss)  # [N, L]
    return 0.5 * loss_mat, metrics


def explained_variance(values: Tensor, returns: Tensor, mask: Tensor) -> float:
    """1 - Var[R - V] / Var[R] over real tokens: 1 is a perfect critic, 0 predicts the mean.

    >>> m = torch.ones(1, 4)
    >>> r = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    >>> explained_variance(r, r, m), explained_variance(torch.full_like(r, 1.5), r, m)
    (1.0, 0.0)
    """
    var_r = masked_mean((returns - masked_mean(returns, mask)) ** 2, mask)
    err = returns - values
    var_err = masked_mean((err - masked_mean(err, mask)) ** 2, mask)
    return float(1.0 - var_err / var_r) if var_r > 0 else float("nan")
