"""Preference losses over (chosen, rejected) completion pairs: DPO, IPO, SimPO, ORPO.

Design note: every loss in ``PREFERENCE_LOSSES`` has the one signature
``fn(chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps, chosen_tokens,
rejected_tokens, **opts) -> (loss_vec [B], metrics)`` over *per-sequence summed* log-probs, and
returns one loss per pair, unreduced: the loop divides the sum by the step's number of pairs, so
a micro-batched step adds up to the one-pass loss exactly. Length-normalised variants (IPO,
SimPO, ORPO) divide by the token counts themselves. A registration declares its ``options``
(bound from the ``dpo:`` config section) and ``needs={"reference"}`` when it reads the
reference log-probs; SimPO and ORPO are reference-free, so the trainer skips that pass (their
``ref_*`` arguments may be None).

Metrics (plain floats, means over the pairs):
    dpo/chosen_reward, dpo/rejected_reward  the loss's implicit reward of each completion
                                            (DPO: beta * log-ratio to the reference)
    dpo/reward_margin     chosen minus rejected reward
    dpo/reward_accuracy   fraction of pairs whose chosen reward is strictly higher
    dpo/logps_chosen, dpo/logps_rejected    the policy's summed log-probs
    (ORPO adds dpo/nll and dpo/log_odds_ratio.)

Notation:
    B: number of pairs.
    pi_c, pi_r: [B] log pi_theta(y_c | x), log pi_theta(y_r | x), summed over completion tokens.
    ref_c, ref_r: [B] the same under the frozen reference policy.
    n_c, n_r: [B] completion token counts (EOS included).
    h = (pi_c - ref_c) - (pi_r - ref_r): the DPO log-ratio difference.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from mmrft.registry import Registry

PreferenceOutput = tuple[Tensor, dict[str, float]]
PreferenceLoss = Callable[..., PreferenceOutput]
PREFERENCE_LOSSES: Registry[PreferenceLoss] = Registry("preference loss")


def _reward_metrics(
    chosen_reward: Tensor, rejected_reward: Tensor, chosen_logps: Tensor, rejected_logps: Tensor
) -> dict[str, float]:
    """Means over the pairs of [B] implicit rewards and summed log-probs (detached)."""
    c, r = chosen_reward.detach().float(), rejected_reward.detach().float()  # [B]
    return {
        "dpo/chosen_reward": c.mean().item(),
        "dpo/rejected_reward": r.mean().item(),
        "dpo/reward_margin": (c - r).mean().item(),
        "dpo/reward_accuracy": (c > r).float().mean().item(),
        "dpo/logps_chosen": chosen_logps.detach().float().mean().item(),
        "dpo/logps_rejected": rejected_logps.detach().float().mean().item(),
    }


def _need_reference(name: str, *refs: Tensor | None) -> None:
    if any(r is None for r in refs):
        raise ValueError(f"the {name} loss needs the reference log-probs (got None)")


@PREFERENCE_LOSSES.register("dpo", options=("beta",), needs=("reference",))
def dpo_loss(
    chosen_logps: Tensor,
    rejected_logps: Tensor,
    ref_chosen_logps: Tensor | None,
    ref_rejected_logps: Tensor | None,
    chosen_tokens: Tensor,
    rejected_tokens: Tensor,
    *,
    beta: float = 0.1,
) -> PreferenceOutput:
    """DPO (Rafailov et al. 2023, arXiv:2305.18290, eq. 7), the sigmoid form TRL calls "sigmoid".

    l = -log sigmoid(beta * h),  h = (pi_c - ref_c) - (pi_r - ref_r)
    Implicit reward of a completion: beta * (pi - ref). Token counts are unused.

    Args:
        chosen_logps, rejected_logps, ref_chosen_logps, ref_rejected_logps: [B] summed log-probs.
        chosen_tokens, rejected_tokens: [B] (unused).
        beta: strength of the implicit KL to the reference (``dpo.beta``); smaller lets the
            policy move further.

    Returns:
        loss_vec [B], metrics.
    """
    _need_reference("dpo", ref_chosen_logps, ref_rejected_logps)
    chosen_ratio = chosen_logps - ref_chosen_logps  # [B] log pi_c / ref_c
    rejected_ratio = rejected_logps - ref_rejected_logps  # [B] log pi_r / ref_r
    loss = -F.logsigmoid(beta * (chosen_ratio - rejected_ratio))  # [B] -log sigma(beta h)
    metrics = _reward_metrics(
        beta * chosen_ratio, beta * rejected_ratio, chosen_logps, rejected_logps
    )
    return loss, metrics


@PREFERENCE_LOSSES.register("ipo", options=("beta",), needs=("reference",))
def ipo_loss(
    chosen_logps: Tensor,
    rejected_logps: Tensor,
    ref_chosen_logps: Tensor | None,
    ref_rejected_logps: Tensor | None,
    chosen_tokens: Tensor,
    rejected_tokens: Tensor,
    *,
    beta: float = 0.1,
) -> PreferenceOutput:
    """IPO (Azar et al. 2023, arXiv:2310.12036, eq. 17) with per-token log-ratios, as TRL does.

    l = (h_bar - 1 / (2 tau))^2,  h_bar = (pi_c - ref_c) / n_c - (pi_r - ref_r) / n_r
    ``beta`` plays the paper's tau. Squared-error regression of the (length-averaged) log-ratio
    gap onto a fixed target instead of DPO's ever-growing sigmoid: it cannot push the margin to
    infinity on deterministic preferences. The length averaging keeps tau comparable across
    completion lengths (TRL's choice, confirmed with the IPO authors per TRL's comment).
    Implicit reward reported: beta * (pi - ref), as for DPO.

    Args:
        as ``dpo_loss``; chosen_tokens, rejected_tokens: [B] token counts (clamped to >= 1).
        beta: IPO's tau (``dpo.beta``).
    """
    _need_reference("ipo", ref_chosen_logps, ref_rejected_logps)
    chosen_ratio = chosen_logps - ref_chosen_logps  # [B]
    rejected_ratio = rejected_logps - ref_rejected_logps  # [B]
    gap = chosen_ratio / chosen_tokens.clamp(min=1) - rejected_ratio / rejected_tokens.clamp(
        min=1
    )  # [B] h_bar
    loss = (gap - 1.0 / (2.0 * beta)) ** 2  # [B] (h_bar - 1/(2 tau))^2
    metrics = _reward_metrics(
        beta * chosen_ratio, beta * rejected_ratio, chosen_logps, rejected_logps
    )
    return loss, metrics


@PREFERENCE_LOSSES.register("simpo", options=("beta", "gamma"))
def simpo_loss(
    chosen_logps: Tensor,
    rejected_logps: Tensor,
    ref_chosen_logps: Tensor | None,
    ref_rejected_logps: Tensor | None,
    chosen_tokens: Tensor,
    rejected_tokens: Tensor,
    *,
    beta: float = 2.0,
    gamma: float = 1.0,
) -> PreferenceOutput:
    """SimPO (Meng et al. 2024, arXiv:2405.14734, eq. 6): reference-free, length-normalised.

    l = -log sigmoid(beta * pi_c / n_c - beta * pi_r / n_r - gamma)
    Implicit reward: beta * the average per-token log-prob; ``gamma`` is the target margin the
    chosen reward must clear (the paper's gamma; TRL's CPO trainer takes gamma / beta).

    Args:
        as ``dpo_loss``; the ``ref_*`` are ignored (may be None).
        beta: reward scale (``dpo.beta``; the paper uses 2-10).  gamma: ``dpo.simpo_gamma``.
    """
    chosen_reward = beta * chosen_logps / chosen_tokens.clamp(min=1)  # [B] beta * mean logp
    rejected_reward = beta * rejected_logps / rejected_tokens.clamp(min=1)  # [B]
    loss = -F.logsigmoid(chosen_reward - rejected_reward - gamma)  # [B]
    return loss, _reward_metrics(chosen_reward, rejected_reward, chosen_logps, rejected_logps)


def _log1mexp(x: Tensor) -> Tensor:
    """log(1 - exp(x)) for x < 0, stable at both ends (Maechler 2012: switch at -log 2)."""
    return torch.where(
        x > -0.6931471805599453, torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x))
    )


@PREFERENCE_LOSSES.register("orpo", options=("lam",))
def orpo_loss(
    chosen_logps: Tensor,
    rejected_logps: Tensor,
    ref_chosen_logps: Tensor | None,
    ref_rejected_logps: Tensor | None,
    chosen_tokens: Tensor,
    rejected_tokens: Tensor,
    *,
    lam: float = 0.1,
) -> PreferenceOutput:
    """ORPO (Hong et al. 2024, arXiv:2403.07691, eqs. 6-7): SFT on the chosen completion plus an
    odds-ratio penalty, reference-free.

    With average log-probs a_c = pi_c / n_c, a_r = pi_r / n_r (a per-token probability
    P = exp(a)), odds(y) = P / (1 - P) and
        log OR = log odds(y_c) - log odds(y_r) = (a_c - a_r) - (log(1 - e^{a_c}) - log(1 - e^{a_r}))
        l = -a_c - lam * log sigmoid(log OR)
    The first term is this pair's token-mean NLL of the chosen completion. Implicit reward
    reported: the average log-prob a (so the margin is a_c - a_r).

    Args:
        as ``dpo_loss``; the ``ref_*`` are ignored (may be None).
        lam: weight of the odds-ratio term (``dpo.orpo_lambda``; the paper's lambda, 0.1).
    """
    avg_c = chosen_logps / chosen_tokens.clamp(min=1)  # [B] a_c <= 0
    avg_r = rejected_logps / rejected_tokens.clamp(min=1)  # [B] a_r
    # a = 0 exactly (P = 1) would make log(1 - P) = -inf; keep it a hair below.
    tiny = -1e-7
    log_or = (avg_c - avg_r) - (
        _log1mexp(avg_c.clamp(max=tiny)) - _log1mexp(avg_r.clamp(max=tiny))
    )  # [B] log odds ratio
    nll = -avg_c  # [B] token-mean NLL of the chosen completion
    loss = nll - lam * F.logsigmoid(log_or)  # [B]
    metrics = _reward_metrics(avg_c, avg_r, chosen_logps, rejected_logps)
    metrics["dpo/nll"] = nll.detach().mean().item()
    metrics["dpo/log_odds_ratio"] = log_or.detach().mean().item()
    return loss, metrics
