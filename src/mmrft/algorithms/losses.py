"""Policy losses: per-token loss matrices plus diagnostics, no reduction, no KL.

Design note: every loss in ``POLICY_LOSSES`` has the signature
``fn(logp, old_logp, advantages, mask, **opts) -> (loss_mat [N, L], metrics)`` and is
selected by ``algorithm.policy_loss``. Its registration declares the keyword ``options`` it takes,
so the config binds exactly those (and rejects a changed option the loss would ignore). The loop reduces with ``agg_loss(loss_mat, mask,
algorithm.loss_agg_mode)`` and adds ``kl_coef * agg_loss(kl_mat, ...)`` and the entropy bonus
itself, so these functions hold only the policy-gradient surrogate.

A loss registered with the trait ``ADVANTAGE_WEIGHTED`` promises that a token whose advantage
is 0 has loss 0 and gradient 0 (every built-in loss multiplies each token's term by A). The
update may then leave rows with zero advantage out of its forward/backward (a GRPO group whose
completions all scored alike): ``rl.skip_zero_advantage``. A custom loss without the trait is
always given every row.

Robustness choices shared by all losses:
  * the log-ratio is zeroed at padding (``torch.where``), so padded log-probs of any value,
    ``-inf`` included, change neither the loss nor the gradients;
  * the log-ratio is clamped to [-20, 20] before ``exp`` (as verl does) so one wild token cannot
    overflow; with real data the clamp never binds, which keeps TRL parity exact.

Metrics (plain floats over real tokens):
    actor/clipfrac_low   fraction of tokens whose gradient the lower clip removed (A < 0)
    actor/clipfrac_high  same for the upper clip (A > 0); for cispo: weight truncated
    actor/approx_kl      k3 estimate of KL(pi_old || pi_theta) from the token log-ratios
    actor/ratio_mean|max|min  the importance ratio the loss used (sequence-level for gspo)

Notation:
    N: number of completions; L: padded completion length.
    logp, old_logp: [N, L] log pi_theta(o_t) and log pi_old(o_t) of the sampled tokens.
    advantages: [N] (one per sequence, broadcast over tokens) or [N, L].
    mask: [N, L], 1 for real completion tokens.
    ratio r_t = pi_theta(o_t) / pi_old(o_t);  sg[.] = stop-gradient (``.detach()``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from mmrft.algorithms.aggregation import masked_mean
from mmrft.registry import Registry

LossOutput = tuple[Tensor, dict[str, float]]
PolicyLoss = Callable[..., LossOutput]
POLICY_LOSSES: Registry[PolicyLoss] = Registry("policy_loss")
ADVANTAGE_WEIGHTED = "advantage_weighted"
"""Trait: each token's loss is a multiple of its advantage, so A = 0 gives loss and gradient 0."""

_LOG_RATIO_CLAMP = 20.0


def _token_advantages(advantages: Tensor, mask: Tensor) -> Tensor:
    """[N] or [N, L] advantages -> detached, broadcastable to [N, L], 0 at padding if [N, L]."""
    if advantages.dim() == 1:
        return advantages.detach().unsqueeze(-1)  # [N, 1]
    if advantages.shape != mask.shape:
        raise ValueError(f"advantages {tuple(advantages.shape)} vs mask {tuple(mask.shape)}")
    return torch.where(mask.bool(), advantages.detach(), torch.zeros_like(advantages))  # [N, L]


def _log_ratio(logp: Tensor, old_logp: Tensor, mask: Tensor) -> Tensor:
    """log r_t = logp - old_logp, 0 at padding, clamped for a safe exp.  -> [N, L]."""
    diff = torch.where(mask.bool(), logp - old_logp.detach(), torch.zeros_like(logp))  # [N, L]
    return diff.clamp(-_LOG_RATIO_CLAMP, _LOG_RATIO_CLAMP)  # [N, L]


def _fraction(flags: Tensor, mask: Tensor) -> float:
    """Fraction of real tokens where ``flags`` ([N, L] or broadcastable) is true."""
    return masked_mean(flags.float(), mask).item()


def _ratio_metrics(log_ratio: Tensor, ratio: Tensor, mask: Tensor) -> dict[str, float]:
    """approx_kl from token log-ratios [N, L]; ratio stats from the ratio the loss used."""
    ratio = torch.broadcast_to(ratio.detach(), mask.shape)  # [N, L]
    real = mask.bool()  # [N, L]
    if not real.any():  # an all-padding micro-batch: report neutral values, not errors
        return {
            "actor/approx_kl": 0.0,
            "actor/ratio_mean": 1.0,
            "actor/ratio_max": 1.0,
            "actor/ratio_min": 1.0,
        }
    lr = log_ratio.detach()  # [N, L] log r
    approx_kl = lr.exp() - 1 - lr  # [N, L] k3 estimate of KL(pi_old || pi_theta): r - 1 - log r
    return {
        "actor/approx_kl": masked_mean(approx_kl, mask).item(),
        "actor/ratio_mean": masked_mean(ratio, mask).item(),
        "actor/ratio_max": ratio[real].max().item(),
        "actor/ratio_min": ratio[real].min().item(),
    }


def _clipped_surrogate(
    ratio: Tensor, adv: Tensor, clip_low: float, clip_high: float, dual_clip: float | None
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """PPO surrogate on ratio [N, L] and adv [N, 1]|[N, L] -> (loss [N, L], low/high/dual flags)."""
    clipped = ratio.clamp(1 - clip_low, 1 + clip_high)  # [N, L] clip(r, 1-eps_low, 1+eps_high)
    loss = torch.maximum(-adv * ratio, -adv * clipped)  # [N, L] -min(r A, clip(r) A), PPO eq. 7
    low = (ratio < 1 - clip_low) & (adv < 0)  # [N, L] gradient removed by the lower clip
    high = (ratio > 1 + clip_high) & (adv > 0)  # [N, L] gradient removed by the upper clip
    dual = torch.zeros_like(low)  # [N, L]
    if dual_clip is not None:
        if dual_clip <= 1.0:
            raise ValueError(f"dual_clip must be > 1, got {dual_clip}")
        dual = (adv < 0) & (ratio > dual_clip)  # [N, L]
        loss = torch.where(adv < 0, torch.minimum(loss, -adv * dual_clip), loss)  # [N, L] <= -c A
    return loss, low, high, dual


@POLICY_LOSSES.register(
    "ppo_clip", options=("clip_low", "clip_high", "dual_clip"), traits=(ADVANTAGE_WEIGHTED,)
)
def ppo_clip_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = None,
) -> LossOutput:
    """PPO clipped surrogate (Schulman et al. 2017) with DAPO clip-higher and dual clip.

    l_t = -min(r_t A, clip(r_t, 1 - clip_low, 1 + clip_high) A)
    ``clip_high > clip_low`` is DAPO's clip-higher (Yu et al. 2025, arXiv:2503.14476): more
    room for raising low-probability tokens. ``dual_clip = c > 1`` (Ye et al. 2020,
    arXiv:1912.09729) caps the loss of a negative-advantage token at -c A, so a huge ratio on a
    bad token cannot dominate: l_t = min(l_t, -c A) for A < 0. TRL's ``delta`` (INTELLECT-2)
    gives identical values and gradients for delta > 1 + clip_high.

    Args:
        logp, old_logp: [N, L].  advantages: [N] or [N, L].  mask: [N, L].
        clip_low, clip_high: epsilons (``algorithm.clip_low`` / ``algorithm.clip_high``).
        dual_clip: c > 1 or None (``algorithm.dual_clip``).

    Returns:
        loss_mat [N, L], metrics (adds ``actor/clipfrac_dual``).
    """
    adv = _token_advantages(advantages, mask)  # [N, 1] or [N, L]
    log_ratio = _log_ratio(logp, old_logp, mask)  # [N, L]
    ratio = log_ratio.exp()  # [N, L] r_t
    loss, low, high, dual = _clipped_surrogate(ratio, adv, clip_low, clip_high, dual_clip)
    metrics = {
        "actor/clipfrac_low": _fraction(low, mask),
        "actor/clipfrac_high": _fraction(high, mask),
        "actor/clipfrac_dual": _fraction(dual, mask),
        **_ratio_metrics(log_ratio, ratio, mask),
    }
    return loss, metrics


@POLICY_LOSSES.register("gspo", options=("clip_low", "clip_high"), traits=(ADVANTAGE_WEIGHTED,))
def gspo_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_low: float = 3e-4,
    clip_high: float = 4e-4,
) -> LossOutput:
    """GSPO: PPO clipping on the length-normalised sequence ratio (Zheng et al. 2025, arXiv:2507.18071).

    s_i = exp(mean_t(logp_it - old_logp_it)) = (pi(o_i) / pi_old(o_i))^(1/|o_i|)

    Applied per token with the paper's GSPO-token stop-gradient trick,
    s_it = sg[s_i] * pi(o_it) / sg[pi(o_it)], whose value equals s_i and whose gradient is
    sg[s_i] * grad log pi(o_it). Aggregated with ``seq-mean-token-mean`` this reproduces the
    sequence-level GSPO gradient s_i A_i (1/|o_i|) sum_t grad log pi(o_it) exactly (in every
    mode it equals TRL's ``importance_sampling_level="sequence"``). With [N, L] advantages it is
    GSPO-token. The defaults are the paper's clip range (sequence ratios stay close to 1).

    Args:
        logp, old_logp: [N, L].  advantages: [N] or [N, L].  mask: [N, L].
        clip_low, clip_high: clip range for s_i.

    Returns:
        loss_mat [N, L], metrics (ratio stats are of s_i).
    """
    adv = _token_advantages(advantages, mask)  # [N, 1] or [N, L]
    log_ratio = _log_ratio(logp, old_logp, mask)  # [N, L]
    seq_log_ratio = masked_mean(log_ratio, mask, dim=-1).unsqueeze(-1)  # [N, 1] log s_i
    safe_logp = torch.where(mask.bool(), logp, torch.zeros_like(logp))  # [N, L] no -inf at padding
    tok_log_ratio = (
        seq_log_ratio.detach() + safe_logp - safe_logp.detach()
    )  # [N, L] log s_it = log s_i
    ratio = tok_log_ratio.exp()  # [N, L] s_it
    loss, low, high, _ = _clipped_surrogate(ratio, adv, clip_low, clip_high, None)  # [N, L]
    metrics = {
        "actor/clipfrac_low": _fraction(low, mask),
        "actor/clipfrac_high": _fraction(high, mask),
        **_ratio_metrics(log_ratio, ratio, mask),
    }
    return loss, metrics


@POLICY_LOSSES.register("cispo", options=("clip_high",), traits=(ADVANTAGE_WEIGHTED,))
def cispo_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip_high: float = 4.0,
) -> LossOutput:
    """CISPO: clipped importance-weight REINFORCE (MiniMax-M1, arXiv:2506.13585).

    l_t = -sg[min(r_t, 1 + clip_high)] * A * log pi(o_t)

    PPO zeroes the gradient of clipped tokens; CISPO keeps every token's gradient and only
    truncates its importance weight, so rare "fork" tokens still learn. The default bound
    1 + 4 = 5 is ScaleRL's recommended epsilon_max (TRL's ``epsilon_high`` is this *bound*,
    i.e. TRL epsilon_high = 1 + clip_high). The loss value is log-prob scaled; only its
    gradient sg[w] A grad log pi is meaningful.

    Returns:
        loss_mat [N, L], metrics (``clipfrac_high`` = weights truncated, any advantage sign).
    """
    adv = _token_advantages(advantages, mask)  # [N, 1] or [N, L]
    log_ratio = _log_ratio(logp, old_logp, mask)  # [N, L]
    ratio = log_ratio.exp()  # [N, L]
    weight = ratio.clamp(max=1 + clip_high).detach()  # [N, L] sg[min(r, 1 + eps_high)]
    safe_logp = torch.where(mask.bool(), logp, torch.zeros_like(logp))  # [N, L] no -inf at padding
    loss = -weight * adv * safe_logp  # [N, L]
    metrics = {
        "actor/clipfrac_low": 0.0,
        "actor/clipfrac_high": _fraction(ratio > 1 + clip_high, mask),
        **_ratio_metrics(log_ratio, ratio, mask),
    }
    return loss, metrics


@POLICY_LOSSES.register("sapo", options=("tau_pos", "tau_neg"), traits=(ADVANTAGE_WEIGHTED,))
def sapo_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    tau_pos: float = 1.0,
    tau_neg: float = 1.05,
) -> LossOutput:
    """SAPO: a smooth sigmoid gate instead of a hard clip (Qwen team 2025, arXiv:2511.20347).

    l_t = -f(r_t) A,  f(r) = sigmoid(tau (r - 1)) * 4 / tau,  tau = tau_pos if A > 0 else tau_neg

    df/dr = 1 at r = 1, so on-policy the gradient equals plain policy gradient; off-policy it
    decays smoothly (faster for larger tau). The paper (and TRL's defaults) use
    tau_neg > tau_pos because negative updates spread mass over many unsampled tokens.
    Same as TRL's ``loss_type="sapo"`` (``sapo_temperature_pos`` / ``_neg``).

    Returns:
        loss_mat [N, L], metrics (clip fractions are 0: nothing is hard-clipped).
    """
    adv = _token_advantages(advantages, mask)  # [N, 1] or [N, L]
    log_ratio = _log_ratio(logp, old_logp, mask)  # [N, L]
    ratio = log_ratio.exp()  # [N, L]
    tau = torch.where(adv > 0, tau_pos, tau_neg).to(ratio.dtype)  # [N, 1] or [N, L]
    gate = torch.sigmoid(tau * (ratio - 1)) * 4 / tau  # [N, L] f(r), SAPO soft gate
    loss = -gate * adv  # [N, L]
    metrics = {"actor/clipfrac_low": 0.0, "actor/clipfrac_high": 0.0}
    return loss, {**metrics, **_ratio_metrics(log_ratio, ratio, mask)}


@POLICY_LOSSES.register("pg", traits=(ADVANTAGE_WEIGHTED,))
def pg_loss(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor) -> LossOutput:
    """Unclipped importance-weighted policy gradient: l_t = -r_t A.

    On-policy (old_logp == sg[logp]) r = 1 and grad l_t = -A grad log pi: REINFORCE. Use with
    one update per batch; with several epochs nothing bounds the step.
    """
    adv = _token_advantages(advantages, mask)  # [N, 1] or [N, L]
    log_ratio = _log_ratio(logp, old_logp, mask)  # [N, L]
    ratio = log_ratio.exp()  # [N, L]
    loss = -adv * ratio  # [N, L] -r A
    metrics = {"actor/clipfrac_low": 0.0, "actor/clipfrac_high": 0.0}
    return loss, {**metrics, **_ratio_metrics(log_ratio, ratio, mask)}


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy of the softmax over the vocabulary: H = logsumexp(z) - sum_v softmax(z)_v z_v.

    Args:
        logits: [N, L, V].

    Returns:
        [N, L] entropy in nats (the loop applies ``entropy_coef * agg_loss(-H, mask, mode)``).
    """
    probs = torch.softmax(logits, dim=-1)  # [N, L, V]
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(-1)  # [N, L]


__all__ = [
    "ADVANTAGE_WEIGHTED",
    "POLICY_LOSSES",
    "cispo_loss",
    "entropy_from_logits",
    "gspo_loss",
    "pg_loss",
    "ppo_clip_loss",
    "sapo_loss",
]
