"""The RL objective: policy loss + KL + entropy, composed from bound registry functions.

The math itself lives in ``mmrft.algorithms`` as pure functions. ``mmrft.build`` (the
composition root) reads ``algorithm.*``, binds the chosen entries to the options their
registrations declare and hands the trainer an ``Objective``; each entry declares what else it
``needs`` (a critic, a greedy baseline), so nothing here reads the config or a signature. A new
estimator or loss registers its options and needs; nothing here changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from mmrft.algorithms.aggregation import agg_loss, masked_mean
from mmrft.algorithms.kl import kl_penalized_rewards
from mmrft.algorithms.losses import entropy_from_logits
from mmrft.trainer.distributed import gather_rows, rank, world_size


@dataclass(frozen=True)
class AdvantageEstimator:
    """``algorithm.adv_estimator`` bound to its options; ``needs`` says which inputs the loop
    must pass: ``greedy_baseline`` (``baseline_rewards=``) or ``critic`` (``values=``, ``mask=``,
    ``kl_coef=``, optional ``token_kl=``; then the output is token-level ``(adv, returns)``)."""

    name: str
    fn: Callable[..., Any]
    options: dict[str, Any]
    needs: frozenset[str]

    def __call__(self, rewards: Any, group_size: int, **inputs: Any) -> Any:
        return self.fn(rewards, group_size, **inputs, **self.options)


@dataclass(frozen=True)
class Objective:
    """The configured RL math, ready to call (built by ``mmrft.build.make_objective``).

    ``policy_loss``: ``(logp, old_logp, adv, mask) -> (loss_mat [N, L], metrics)``; ``kl``:
    ``(logp, ref_logp) -> kl_mat [N, L]``; ``agg_mode``: ``agg_loss``'s mode for every term.
    ``advantage_weighted``: the loss declared the trait of that name (zero advantage, zero
    loss and gradient).
    """

    estimator: AdvantageEstimator
    policy_loss: Callable[..., tuple[Tensor, dict[str, float]]]
    kl: Callable[[Tensor, Tensor], Tensor]
    agg_mode: str
    kl_coef: float = 0.0
    entropy_coef: float = 0.0
    kl_in_reward: bool = False
    advantage_weighted: bool = False

    @property
    def zero_advantage_inert(self) -> bool:
        """Whether, without reference log-probs, a row whose advantage is 0 everywhere adds
        exactly nothing to the loss, its gradient and the loss's metrics' meaning: the policy
        loss is advantage-weighted and no entropy bonus reads the row."""
        return self.advantage_weighted and self.entropy_coef == 0

    @property
    def needs_critic(self) -> bool:
        """The estimator reads a learned critic's values (GAE): one must be built and trained."""
        return "critic" in self.estimator.needs

    @property
    def needs_greedy_baseline(self) -> bool:
        """The estimator compares against a greedy rollout (ReMax): the loop must produce one."""
        return "greedy_baseline" in self.estimator.needs


def compute_advantages(
    obj: Objective,
    rewards: Tensor,
    group_size: int,
    *,
    kl_coef: float = 0.0,
    logp: Tensor | None = None,
    ref_logp: Tensor | None = None,
    mask: Tensor | None = None,
    baseline_rewards: Tensor | None = None,
    values: Tensor | None = None,
) -> tuple[Tensor, Tensor | None]:
    """rewards [N] -> ``(advantages, returns)`` with the configured estimator.

    Sequence estimators give advantages [N] and no returns; GAE takes the critic's rollout-time
    ``values`` [N, L] and gives advantages and returns (the critic's targets), both [N, L].
    With ``kl_in_reward`` the KL to the reference (rollout-policy log-probs ``logp`` vs
    ``ref_logp`` [N, L]) is folded into the rewards first: summed into the outcome for sequence
    estimators, token by token for GAE. ReMax gets ``baseline_rewards`` [N].
    """
    estimator = obj.estimator
    inputs: dict[str, Any] = {}
    token_level = "critic" in estimator.needs  # critic estimators work token by token
    if token_level:
        if values is None:
            raise ValueError(f"adv_estimator {estimator.name!r} needs the critic's values")
        inputs.update(values=values, mask=mask, kl_coef=kl_coef)
    if obj.kl_in_reward and ref_logp is not None and logp is not None and mask is not None:
        if token_level:
            inputs["token_kl"] = torch.where(mask.bool(), logp - ref_logp, 0.0)  # [N, L] k1
        else:
            rewards = kl_penalized_rewards(rewards, logp, ref_logp, mask, kl_coef)
    if "greedy_baseline" in estimator.needs:
        if baseline_rewards is None:
            raise ValueError(f"adv_estimator {estimator.name!r} needs baseline_rewards")
        inputs["baseline_rewards"] = baseline_rewards
    out = estimator(rewards, group_size, **inputs)
    return out if token_level else (out, None)


def compute_loss(
    obj: Objective,
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    ref_logp: Tensor | None = None,
    logits: Tensor | None = None,
    kl_coef: float | None = None,
    max_len: int | None = None,
    token_weights: Tensor | None = None,
    denominator: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Scalar loss and metrics. logp/old_logp/ref_logp/mask [N, L], advantages [N] or [N, L];
    ``token_weights`` [N, L] (importance weights for the train/inference gap) scale the policy
    loss per token. ``denominator``: the whole mini-batch's ``agg_denominator`` when these rows
    are one micro-batch of it (see ``agg_loss``); every term is normalised by it."""
    loss_mat, metrics = obj.policy_loss(logp, old_logp, advantages, mask)
    if token_weights is not None:
        loss_mat = loss_mat * token_weights  # [N, L]
    # Dr.GRPO's constant normaliser must be the configured max length, not this batch's L.
    max_len = max_len or mask.shape[1]
    agg = {"max_len": max_len, "denominator": denominator}
    pg_loss = agg_loss(loss_mat, mask, obj.agg_mode, **agg)
    loss = pg_loss
    metrics["actor/pg_loss"] = pg_loss.item()
    beta = obj.kl_coef if kl_coef is None else kl_coef
    if ref_logp is not None:
        kl_mat = obj.kl(logp, ref_logp)  # [N, L]
        kl = agg_loss(kl_mat, mask, obj.agg_mode, **agg)
        metrics["actor/kl"] = masked_mean(kl_mat, mask).item()
        if beta > 0 and not obj.kl_in_reward:  # in-reward KL already shaped the advantages
            loss = loss + beta * kl
    if logits is not None:
        with torch.set_grad_enabled(obj.entropy_coef > 0):
            ent_mat = entropy_from_logits(logits)  # [N, L]
        metrics["actor/entropy"] = masked_mean(ent_mat.detach(), mask).item()
        if obj.entropy_coef > 0:
            loss = loss - obj.entropy_coef * agg_loss(ent_mat, mask, obj.agg_mode, **agg)
    metrics["actor/loss"] = loss.item()
    return loss, metrics


def compute_advantages_all_ranks(
    obj: Objective, rewards: Tensor, group_size: int, **tensors_and_kl: Any
) -> tuple[Tensor, Tensor | None]:
    """``compute_advantages`` over every rank's rows, returning this rank's rows.

    Under torchrun each rank holds whole groups, but some estimators also use batch-wide
    statistics (e.g. REINFORCE++'s whitening over the batch); gathering the per-row inputs
    (rewards, baselines, and the [n, L] log-probs / values the token-level ones read) makes
    N ranks x b rows compute exactly what one process computes on N*b rows.
    """
    if world_size() == 1:
        return compute_advantages(obj, rewards, group_size, **tensors_and_kl)
    kl_coef = tensors_and_kl.pop("kl_coef", 0.0)
    n, width = rewards.shape[0], None
    if tensors_and_kl.get("mask") is not None:
        width = tensors_and_kl["mask"].shape[1]
    every = gather_rows({"rewards": rewards, **tensors_and_kl})
    advantages, returns = compute_advantages(
        obj, every.pop("rewards"), group_size, kl_coef=kl_coef, **every
    )
    mine = slice(rank() * n, (rank() + 1) * n)  # every rank holds the same number of rows

    def own(t: Tensor | None) -> Tensor | None:
        return None if t is None else (t[mine] if t.dim() == 1 else t[mine, :width])

    return own(advantages), own(returns)
