"""The RL objective as configured: policy loss + KL + entropy, composed from registry functions.

This is the only place that reads ``AlgorithmConfig`` to pick math; the math itself lives in
``mmrft.algorithms`` as pure functions. Options are passed to each registered function by name,
so a new estimator or loss that takes new keywords needs no change here.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor

from mmrft.algorithms.advantages import ADV_ESTIMATORS
from mmrft.algorithms.aggregation import agg_loss, masked_mean
from mmrft.algorithms.kl import KL_ESTIMATORS, kl_penalized_rewards
from mmrft.algorithms.losses import POLICY_LOSSES, entropy_from_logits
from mmrft.config import AlgorithmConfig


def call_with_options(fn, *args, options: dict[str, Any]):
    """Call ``fn(*args, **opts)`` with only the options its signature names."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return fn(*args, **options)
    return fn(*args, **{k: v for k, v in options.items() if k in params})


def algorithm_options(cfg: AlgorithmConfig) -> dict[str, Any]:
    """Config fields under the keyword names the registered functions use."""
    return {
        **asdict(cfg),
        "tau_pos": cfg.sapo_tau_pos,
        "tau_neg": cfg.sapo_tau_neg,
        "k": cfg.passk_k,
        "gamma": cfg.gae_gamma,
        "lam": cfg.gae_lambda,
    }


def needs_greedy_baseline(cfg: AlgorithmConfig) -> bool:
    """Estimators that compare against a greedy rollout (ReMax) take ``baseline_rewards``."""
    fn = ADV_ESTIMATORS.get(cfg.adv_estimator)
    return "baseline_rewards" in inspect.signature(fn).parameters


def needs_critic(cfg: AlgorithmConfig) -> bool:
    """Estimators that read a learned critic's ``values`` (GAE) need one built and trained."""
    fn = ADV_ESTIMATORS.get(cfg.adv_estimator)
    return "values" in inspect.signature(fn).parameters


def compute_advantages(
    cfg: AlgorithmConfig,
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
    fn = ADV_ESTIMATORS.get(cfg.adv_estimator)
    extra: dict[str, Any] = {"kl_coef": kl_coef, "mask": mask}
    token_level = "values" in inspect.signature(fn).parameters
    if token_level:
        if values is None:
            raise ValueError(f"adv_estimator {cfg.adv_estimator!r} needs the critic's values")
        extra["values"] = values
    if cfg.kl_in_reward and ref_logp is not None and logp is not None and mask is not None:
        if token_level:
            extra["token_kl"] = torch.where(mask.bool(), logp - ref_logp, 0.0)  # [N, L] k1
        else:
            rewards = kl_penalized_rewards(rewards, logp, ref_logp, mask, kl_coef)
    if baseline_rewards is not None:
        extra["baseline_rewards"] = baseline_rewards
    out = call_with_options(fn, rewards, group_size, options={**algorithm_options(cfg), **extra})
    return out if isinstance(out, tuple) else (out, None)


def compute_loss(
    cfg: AlgorithmConfig,
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
) -> tuple[Tensor, dict[str, float]]:
    """Scalar loss and metrics. logp/old_logp/ref_logp/mask [N, L], advantages [N] or [N, L];
    ``token_weights`` [N, L] (importance weights for the train/inference gap) scale the policy
    loss per token."""
    loss_fn = POLICY_LOSSES.get(cfg.policy_loss)
    loss_mat, metrics = call_with_options(
        loss_fn, logp, old_logp, advantages, mask, options=algorithm_options(cfg)
    )
    if token_weights is not None:
        loss_mat = loss_mat * token_weights  # [N, L]
    # Dr.GRPO's constant normaliser must be the configured max length, not this batch's L.
    max_len = max_len or mask.shape[1]
    pg_loss = agg_loss(loss_mat, mask, cfg.loss_agg_mode, max_len=max_len)
    loss = pg_loss
    metrics["actor/pg_loss"] = pg_loss.item()
    beta = cfg.kl_coef if kl_coef is None else kl_coef
    if ref_logp is not None:
        kl_mat = KL_ESTIMATORS.get(cfg.kl_estimator)(logp, ref_logp)  # [N, L]
        kl = agg_loss(kl_mat, mask, cfg.loss_agg_mode, max_len=max_len)
        metrics["actor/kl"] = masked_mean(kl_mat, mask).item()
        if beta > 0 and not cfg.kl_in_reward:  # in-reward KL already shaped the advantages
            loss = loss + beta * kl
    if logits is not None:
        with torch.set_grad_enabled(cfg.entropy_coef > 0):
            ent_mat = entropy_from_logits(logits)  # [N, L]
        metrics["actor/entropy"] = masked_mean(ent_mat.detach(), mask).item()
        if cfg.entropy_coef > 0:
            loss = loss - cfg.entropy_coef * agg_loss(
                ent_mat, mask, cfg.loss_agg_mode, max_len=max_len
            )
    metrics["actor/loss"] = loss.item()
    return loss, metrics
