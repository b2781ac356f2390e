"""The RL math of mmrft as pure tensor functions behind registries.

No model, optimizer, config object or I/O in here: explicit tensors and floats in, tensors
(and plain-float metrics) out. See ``docs/algorithms.md`` for the equations and config keys.

- ``advantages``: ``ADV_ESTIMATORS`` (grpo, dr_grpo, rloo, reinforce_pp, remax, grpo_passk)
  and ``gae_advantages``.
- ``losses``: ``POLICY_LOSSES`` (ppo_clip, gspo, cispo, sapo, pg) and ``entropy_from_logits``.
- ``kl``: ``KL_ESTIMATORS`` (k1, k2, k3) and the fixed/adaptive KL controllers.
- ``aggregation``: ``agg_loss`` (length normalisation) and masked reductions.
"""

from mmrft.algorithms.advantages import (
    ADV_ESTIMATORS,
    dr_grpo_advantages,
    gae_advantages,
    grpo_advantages,
    passk_advantages,
    reinforce_pp_advantages,
    remax_advantages,
    rloo_advantages,
)
from mmrft.algorithms.aggregation import AGG_MODES, agg_loss, masked_mean, masked_sum, masked_whiten
from mmrft.algorithms.kl import (
    KL_ESTIMATORS,
    AdaptiveKLController,
    FixedKLController,
    kl_penalized_rewards,
)
from mmrft.algorithms.losses import (
    POLICY_LOSSES,
    cispo_loss,
    entropy_from_logits,
    gspo_loss,
    pg_loss,
    ppo_clip_loss,
    sapo_loss,
)

__all__ = [
    "ADV_ESTIMATORS",
    "AGG_MODES",
    "KL_ESTIMATORS",
    "POLICY_LOSSES",
    "AdaptiveKLController",
    "kl_penalized_rewards",
    "FixedKLController",
    "agg_loss",
    "cispo_loss",
    "dr_grpo_advantages",
    "entropy_from_logits",
    "gae_advantages",
    "grpo_advantages",
    "gspo_loss",
    "masked_mean",
    "masked_sum",
    "masked_whiten",
    "passk_advantages",
    "pg_loss",
    "ppo_clip_loss",
    "reinforce_pp_advantages",
    "remax_advantages",
    "rloo_advantages",
    "sapo_loss",
]
