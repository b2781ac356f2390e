"""Advantage estimators: sequence rewards in, detached sequence advantages out.

Design note: every estimator in ``ADV_ESTIMATORS`` has the signature
``fn(rewards [N], group_size, **opts) -> advantages [N]`` and is selected by
``algorithm.adv_estimator``. Its registration declares the config ``options`` it takes (keyword
names) and what else it ``needs``: ``greedy_baseline`` (``baseline_rewards=``, one greedy
rollout's reward per prompt) or ``critic`` (``values=``/``mask=``, token-level output). Rewards are outcome rewards, one scalar per completion; the loss
broadcasts the advantage to every token. Batches are group-contiguous: rows ``[g*G, (g+1)*G)``
are the G samples of prompt g, so grouping is a ``view(B, G)``, not an index lookup.

``gae`` is the odd one out: it needs a critic's ``values`` [N, L] and returns token-level
``(advantages [N, L], returns [N, L])``; ``gae_advantages`` is its pure recursion.

Notation:
    N: number of completions = B * G.
    B: number of prompts.  G: samples per prompt (``group_size``).
    L: padded completion length; mask [N, L] is 1 for real completion tokens.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from mmrft.algorithms.aggregation import masked_whiten
from mmrft.algorithms.value import token_level_rewards
from mmrft.registry import Registry

AdvEstimator = Callable[..., Tensor]
ADV_ESTIMATORS: Registry[AdvEstimator] = Registry("adv_estimator")


def _grouped(rewards: Tensor, group_size: int, *, min_size: int = 1) -> Tensor:
    """View rewards [N] as [B, G], checking the layout."""
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D [N], got shape {tuple(rewards.shape)}")
    if group_size < min_size or rewards.numel() % group_size:
        raise ValueError(
            f"need group_size >= {min_size} dividing N; got group_size={group_size}, N={rewards.numel()}"
        )
    return rewards.view(-1, group_size)  # [B, G]


def _shifted(r: Tensor) -> Tensor:
    """r - r[:, :1]: same differences, but an all-equal row becomes exactly 0.

    Without the shift, float rounding in ``mean`` leaves ~1e-8 residues in ``r - mean`` that
    division by a ~1e-8 std (+ eps) can blow up to O(0.1) advantages for identical rewards.
    """
    return r - r[:, :1]  # [B, G]


@ADV_ESTIMATORS.register("grpo", options=("norm_by_std",))
@torch.no_grad()
def grpo_advantages(
    rewards: Tensor, group_size: int, *, norm_by_std: bool = True, eps: float = 1e-6
) -> Tensor:
    """GRPO: A_i = (r_i - mean(r_group)) / (std(r_group) + eps) (Shao et al. 2024, DeepSeekMath).

    ``std`` is the unbiased (Bessel-corrected) sample std, as in ``torch.std``, verl and
    TRL (``nanstd``). TRL adds 1e-4 instead of 1e-6; pass ``eps=1e-4`` to match it exactly.
    A group whose rewards are all equal gets advantage 0 (0 / eps), never NaN.

    Args:
        rewards: [N] sequence rewards, group-contiguous.
        group_size: G >= 2 (the std of one sample is undefined).
        norm_by_std: False gives Dr.GRPO's un-scaled ``r - mean``.
        eps: added to the std.

    Returns:
        [N] advantages.
    """
    r = _shifted(_grouped(rewards, group_size, min_size=2))  # [B, G]
    adv = r - r.mean(dim=1, keepdim=True)  # [B, G] r_i - mean_group
    if norm_by_std:
        adv = adv / (r.std(dim=1, keepdim=True) + eps)  # [B, G] / (std_group + eps), unbiased std
    return adv.reshape(-1)  # [N]


@ADV_ESTIMATORS.register("dr_grpo")
@torch.no_grad()
def dr_grpo_advantages(rewards: Tensor, group_size: int) -> Tensor:
    """Dr.GRPO: A_i = r_i - mean(r_group), no std scaling (Liu et al. 2025, arXiv:2503.20783).

    Dividing by the group std up-weights near-solved and near-impossible prompts; Dr.GRPO drops it.
    rewards: [N] -> [N].
    """
    r = _shifted(_grouped(rewards, group_size))  # [B, G]
    return (r - r.mean(dim=1, keepdim=True)).reshape(-1)  # [N] r_i - mean_group


@ADV_ESTIMATORS.register("rloo")
@torch.no_grad()
def rloo_advantages(rewards: Tensor, group_size: int) -> Tensor:
    """RLOO: A_i = r_i - mean_{j != i} r_j (Ahmadian et al. 2024, arXiv:2402.14740).

    The leave-one-out baseline is independent of sample i, so the estimator is unbiased.
    Equivalently G/(G-1) * (r_i - mean_group).  rewards: [N] -> [N]; needs G >= 2.
    """
    r = _shifted(_grouped(rewards, group_size, min_size=2))  # [B, G]
    baseline = (r.sum(dim=1, keepdim=True) - r) / (group_size - 1)  # [B, G] mean of the others
    return (r - baseline).reshape(-1)  # [N]


@ADV_ESTIMATORS.register("reinforce_pp")
@torch.no_grad()
def reinforce_pp_advantages(rewards: Tensor, group_size: int, *, eps: float = 1e-6) -> Tensor:
    """REINFORCE++: A_i = (r_i - mean_batch(r)) / (std_batch(r) + eps) (Hu 2025, arXiv:2501.03262).

    Global batch whitening, no per-prompt baseline; ``group_size`` is accepted for the registry
    signature and ignored. REINFORCE++ folds the KL penalty into the reward, so the training
    loop must pass ``rewards = score - kl_coef * sum_t k1_t`` (and not add a KL loss term).
    verl/EasyR1 whiten per *token* (each sequence weighted by its length); this whitens per
    sequence, matching the outcome-reward case of the paper. rewards: [N] -> [N].
    """
    r = _shifted(_grouped(rewards, group_size).reshape(1, -1))  # [1, N]
    return ((r - r.mean()) / (r.std() + eps)).reshape(-1)  # [N] unbiased std


@ADV_ESTIMATORS.register("remax", needs=("greedy_baseline",))
@torch.no_grad()
def remax_advantages(rewards: Tensor, group_size: int, *, baseline_rewards: Tensor) -> Tensor:
    """ReMax: A_i = r_i - r(greedy completion of prompt i) (Li et al. 2023, arXiv:2310.10505).

    Args:
        rewards: [N] sampled-completion rewards.
        group_size: G, used to broadcast a per-prompt baseline.
        baseline_rewards: [N] (already one per completion) or [B] (one per prompt: the reward
            of the greedy decode, produced by the rollout loop).

    Returns:
        [N] advantages.
    """
    r = _grouped(rewards, group_size)  # [B, G]
    if baseline_rewards.numel() == r.shape[0]:
        base = baseline_rewards.reshape(-1, 1)  # [B, 1] broadcast over the group
    elif baseline_rewards.numel() == rewards.numel():
        base = baseline_rewards.reshape(r.shape)  # [B, G]
    else:
        raise ValueError(
            f"baseline_rewards must have N={rewards.numel()} or B={r.shape[0]} elements, "
            f"got {baseline_rewards.numel()}"
        )
    return (r - base.to(r.dtype)).reshape(-1)  # [N] r_i - b(prompt_i)


@ADV_ESTIMATORS.register("grpo_passk", options=("k", "norm_by_std"))
@torch.no_grad()
def passk_advantages(
    rewards: Tensor, group_size: int, *, k: int, norm_by_std: bool = True, eps: float = 1e-6
) -> Tensor:
    """Pass@k advantage: each sample's expected marginal gain to the max of a k-subset.

    A_i = E_{S: |S| = k, i in S} [max(S) - max(S minus i)]

    i.e. how much the best-of-k reward drops if sample i is removed, averaged over the k-subsets
    of its group that contain it. Only a sample that is the best of its subset earns credit, so
    the policy is pushed to put *some* mass on good answers rather than to raise the average.

    With ``k == G`` there is a single subset and this is exactly verl/EasyR1's ``grpo_passk``
    (which cites arXiv:2503.19595): the group's best sample gets
    ``r_max - r_second_max``, all others 0 (ties give 0). ``k == 2`` gives
    ``mean_{j != i} max(r_i - r_j, 0)``. Like verl (``norm_adv_by_std_in_grpo``) and EasyR1 the
    result is divided by the group's unbiased std + eps.

    Closed form used here: sort the group descending, r_(1) >= ... >= r_(G). Sample at rank p is
    the best of S and rank q > p the runner-up in C(G - q, k - 2) of the C(G - 1, k - 1) subsets,
    so A_(p) = sum_{q > p} C(G - q, k - 2) (r_(p) - r_(q)) / C(G - 1, k - 1).

    Args:
        rewards: [N] sequence rewards, group-contiguous.
        group_size: G >= 2.
        k: subset size, 2 <= k <= G.
        norm_by_std: divide by (std_group + eps).
        eps: added to the std.

    Returns:
        [N] advantages (non-negative before std scaling).
    """
    r = _grouped(rewards, group_size, min_size=2)  # [B, G]
    if not 2 <= k <= group_size:
        raise ValueError(f"need 2 <= k <= group_size={group_size}, got k={k}")
    sorted_r, order = r.sort(dim=1, descending=True)  # [B, G], [B, G]
    ranks = torch.arange(1, group_size + 1)  # [G] 1-based rank q
    weight = torch.tensor([math.comb(group_size - q, k - 2) for q in range(1, group_size + 1)])
    pair_w = torch.where(ranks[None, :] > ranks[:, None], weight[None, :], 0)  # [G, G] w[p, q]
    pair_w = pair_w.to(r) / math.comb(group_size - 1, k - 1)  # [G, G]
    gaps = sorted_r[:, :, None] - sorted_r[:, None, :]  # [B, G, G] r_(p) - r_(q)
    adv_sorted = (gaps * pair_w).sum(dim=-1)  # [B, G] A_(p)
    adv = torch.empty_like(r).scatter_(1, order, adv_sorted)  # [B, G] back to sample order
    if norm_by_std:
        adv = adv / (r.std(dim=1, keepdim=True) + eps)  # [B, G]
    return adv.reshape(-1)  # [N]


@torch.no_grad()
def gae_advantages(
    token_rewards: Tensor,
    values: Tensor,
    mask: Tensor,
    *,
    gamma: float,
    lam: float,
    whiten: bool = True,
) -> tuple[Tensor, Tensor]:
    """Generalised Advantage Estimation (Schulman et al. 2016, arXiv:1506.02438) for PPO.

    delta_t = r_t + gamma * V_{t+1} - V_t;  A_t = delta_t + gamma * lam * A_{t+1};  R_t = A_t + V_t.

    Padded positions are skipped: the recursion carries ``V_{t+1}`` and ``A_{t+1}`` from the
    next *real* token, and the value after the last real token is 0 (the episode ends).

    Args:
        token_rewards: [N, L] per-token rewards (outcome reward on the last token, minus any
            per-token KL penalty the loop folds in).
        values: [N, L] critic values V(s_t).
        mask: [N, L], 1 for real tokens.
        gamma: discount.  lam: GAE lambda.
        whiten: normalise advantages over real tokens (what verl, EasyR1 and TRL's PPO do).

    Returns:
        advantages [N, L] (0 at padding), returns [N, L] (value targets, before whitening).
    """
    m = mask.to(values.dtype)  # [N, L]
    next_value = torch.zeros_like(values[:, 0])  # [N]
    next_adv = torch.zeros_like(values[:, 0])  # [N]
    adv_rev = []
    for t in reversed(range(values.shape[1])):
        delta = token_rewards[:, t] + gamma * next_value - values[:, t]  # [N] TD error
        adv_t = delta + gamma * lam * next_adv  # [N]
        next_value = m[:, t] * values[:, t] + (1 - m[:, t]) * next_value  # [N] skip padding
        next_adv = m[:, t] * adv_t + (1 - m[:, t]) * next_adv  # [N]
        adv_rev.append(next_adv)
    advantages = torch.stack(adv_rev[::-1], dim=1)  # [N, L]
    returns = advantages + values  # [N, L] R_t = A_t + V_t
    if whiten:
        advantages = masked_whiten(advantages, mask)  # [N, L]
    return advantages * m, returns * m  # [N, L], [N, L]


@ADV_ESTIMATORS.register("gae", options=("gamma", "lam"), needs=("critic",))
def gae_outcome_advantages(
    rewards: Tensor,
    group_size: int,
    *,
    values: Tensor,
    mask: Tensor,
    gamma: float = 1.0,
    lam: float = 0.95,
    token_kl: Tensor | None = None,
    kl_coef: float = 0.0,
) -> tuple[Tensor, Tensor]:
    """PPO's estimator on outcome rewards: a learned critic, not the group, is the baseline.

    The outcome reward sits on each row's last real token, minus ``kl_coef * token_kl`` on every
    token (``token_level_rewards``); then ``gae_advantages`` (whitened over the batch).
    ``group_size`` is unused: rows need not come in groups, and G = 1 is fine.

    Args:
        rewards: [N] outcome rewards.  values: [N, L] rollout-time critic values.
        mask: [N, L].  token_kl: [N, L] k1 of the rollout policy vs the reference, or None.

    Returns:
        ``(advantages [N, L], returns [N, L])``; the returns are the critic's targets.
    """
    token_rewards = token_level_rewards(rewards, mask, token_kl, kl_coef)  # [N, L]
    return gae_advantages(token_rewards, values, mask, gamma=gamma, lam=lam)
