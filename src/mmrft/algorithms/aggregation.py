"""Masked reductions and the one place that owns length normalisation.

Design note: every policy loss returns a per-token matrix ``loss_mat [N, L]`` and never
reduces it; ``agg_loss`` turns it into a scalar. The choice of denominator is what separates
GRPO (per-sequence mean), DAPO (per-token mean) and Dr.GRPO (a constant), so it lives in one
function selected by ``algorithm.loss_agg_mode`` instead of being re-decided inside each loss.

Padding is removed with ``torch.where`` rather than ``x * mask``: ``inf * 0`` is NaN, and
padded positions may hold anything (``-inf`` log-probs, garbage advantages).

Notation:
    N: number of completions in the batch (B prompts x G samples, group-contiguous).
    L: padded completion length.
    mask: [N, L] float/bool, 1 for real completion tokens, 0 for padding.
"""

from __future__ import annotations

import torch
from torch import Tensor

AGG_MODES: tuple[str, ...] = (
    "token-mean",
    "seq-mean-token-mean",
    "seq-mean-token-sum",
    "seq-mean-token-sum-norm",
)


def masked_sum(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Sum of ``x`` over positions where ``mask`` is set (padding values, even inf/NaN, ignored).

    Args:
        x: [N, L] (any shape broadcastable with ``mask``).
        mask: [N, L], 1 for real tokens.
        dim: reduce this dim only; ``None`` reduces everything to a scalar.
    """
    kept = torch.where(mask.bool(), x, torch.zeros((), dtype=x.dtype, device=x.device))  # [N, L]
    return kept.sum() if dim is None else kept.sum(dim)


def masked_mean(x: Tensor, mask: Tensor, dim: int | None = None) -> Tensor:
    """Mean of ``x`` over masked positions; an all-padding slice gives 0, not NaN.

    Args:
        x: [N, L] (any shape broadcastable with ``mask``).
        mask: [N, L], 1 for real tokens.
        dim: reduce this dim only (e.g. ``-1`` for a per-sequence mean [N]); ``None`` -> scalar.

    >>> masked_mean(torch.tensor([[1.0, 3.0, 100.0]]), torch.tensor([[1.0, 1.0, 0.0]]))
    tensor(2.)
    """
    mask = torch.broadcast_to(mask, torch.broadcast_shapes(x.shape, mask.shape))  # [N, L]
    count = mask.sum() if dim is None else mask.sum(dim)  # [] or [N]
    return masked_sum(x, mask, dim) / count.clamp(min=1)


def masked_whiten(x: Tensor, mask: Tensor, eps: float = 1e-8) -> Tensor:
    """Shift to zero mean and scale to unit (unbiased) variance over masked positions.

    Args:
        x: [N, L] values.
        mask: [N, L], 1 for real tokens.
        eps: added to the variance before the square root.

    Returns:
        [N, L] whitened values (padded positions are meaningless; mask them downstream).
    """
    mean = masked_mean(x, mask)  # []
    n = mask.bool().sum().clamp(min=2)  # []; Bessel correction needs n >= 2
    var = masked_sum((x - mean) ** 2, mask) / (n - 1)  # [] unbiased, like torch.var
    return (x - mean) * torch.rsqrt(var + eps)  # [N, L]


def agg_denominator(mask: Tensor, mode: str, *, max_len: int | None = None) -> Tensor:
    """The normaliser ``agg_loss`` divides by, for a batch with completion mask ``mask`` [N, L].

    token-mean: the number of real tokens; seq-mean-token-mean / seq-mean-token-sum: the number
    of sequences N; seq-mean-token-sum-norm: N * max_len. It is additive over rows, so the
    normaliser of a whole mini-batch (or of all ranks' shards, all-reduced) is the sum of its
    pieces' normalisers: that is what makes micro-batched gradients equal one-pass gradients.

    >>> m = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    >>> [agg_denominator(m, mode, max_len=4).item() for mode in AGG_MODES]
    [3.0, 2.0, 2.0, 8.0]
    """
    if mode not in AGG_MODES:
        raise ValueError(f"unknown loss_agg_mode {mode!r}; valid modes: {list(AGG_MODES)}")
    if mode == "token-mean":
        return mask.sum()
    n_seq = torch.tensor(float(mask.shape[0]), device=mask.device)
    if mode == "seq-mean-token-sum-norm":
        return n_seq * (mask.shape[-1] if max_len is None else max_len)
    return n_seq


def agg_loss(
    loss_mat: Tensor,
    mask: Tensor,
    mode: str,
    *,
    max_len: int | None = None,
    denominator: Tensor | float | None = None,
) -> Tensor:
    """Reduce a per-token loss matrix to a scalar.

    Args:
        loss_mat: [N, L] per-token loss (policy loss, KL term, negative entropy, ...).
        mask: [N, L], 1 for real tokens.
        mode: one of ``AGG_MODES`` (config key ``algorithm.loss_agg_mode``):
            ``"token-mean"``: sum over all real tokens / number of real tokens (DAPO, TRL
            ``bnpo``/``dapo``); every token weighs the same, so long answers are not diluted.
            ``"seq-mean-token-mean"``: mean over tokens within a sequence, then mean over the N
            sequences (original GRPO, TRL ``grpo``); each sequence weighs the same.
            ``"seq-mean-token-sum"``: sum over tokens, mean over sequences.
            ``"seq-mean-token-sum-norm"``: sum over everything / (N * max_len) (Dr.GRPO,
            Liu et al. 2025, TRL ``dr_grpo``); a constant denominator removes length bias.
        max_len: the Dr.GRPO constant; pass the configured max completion length so that the
            scale does not change with the batch's padding. Defaults to ``L``.
        denominator: the whole mini-batch's ``agg_denominator`` when ``loss_mat`` is one
            micro-batch (or one rank's shard) of it; the pieces' losses then add up to the
            mini-batch loss exactly, instead of giving a mean of per-piece means (the classic
            gradient-accumulation bug). ``None``: this batch's own.

    Returns:
        scalar Tensor.

    Fully padded rows count as sequences with loss 0 in the ``seq-mean-*`` modes (TRL's
    convention; verl drops them from the denominator instead).
    """
    if denominator is None:
        denominator = agg_denominator(mask, mode, max_len=max_len)
    if isinstance(denominator, Tensor):
        denominator = denominator.clamp(min=1)
    else:
        denominator = max(denominator, 1)
    if mode == "seq-mean-token-mean":
        per_seq = masked_mean(loss_mat, mask, dim=-1)  # [N] (1/|o_i|) sum_t l_it
        return per_seq.sum() / denominator  # 1/N sum_i (1/|o_i|) sum_t l_it
    # token-mean: sum_it l_it / sum_it m_it; seq-mean-token-sum: 1/N sum_i sum_t l_it;
    # seq-mean-token-sum-norm: sum_it l_it / (N * max_len), Dr.GRPO
    return masked_sum(loss_mat, mask) / denominator
