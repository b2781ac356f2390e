"""PPO's learned critic: a linear value head on a transformer backbone, and its loss.

Design note: V(s_t) is read from the final hidden state at the position whose logits predict
completion token t, so values and log-probs line up token for token. Two layouts:

* separate (``critic.model: null`` or a path): its own backbone, initialised as a copy of the
  starting policy (verl's default) or loaded from a checkpoint, trained by its own optimizer;
* shared (``critic.model: shared``): the head reads the policy's own hidden states from the
  policy's forward pass — no second model in memory — and ``vf_coef * value loss`` is added to
  the policy loss, so the value loss also shapes the shared weights (the classic
  ``CausalLMWithValueHead``).

A separate critic must tokenize like the policy: it is fed the policy's token ids and images.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from mmrft.algorithms.aggregation import agg_loss
from mmrft.algorithms.value import explained_variance, value_loss
from mmrft.config import CriticConfig

SHARED = "shared"


class Critic(torch.nn.Module):
    """A value head (hidden H -> 1) and, unless shared, the backbone it reads from."""

    def __init__(self, hidden_size: int, backbone: torch.nn.Module | None) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = torch.nn.Linear(hidden_size, 1)
        # Zero init: every value starts at 0, so the first advantages are the raw returns,
        # not the noise of a random projection.
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    @property
    def shared(self) -> bool:
        return self.backbone is None

    def values(self, hidden: Tensor) -> Tensor:
        """hidden [N, L, H] -> values [N, L] in the head's dtype (float32 unless the whole critic
        was cast, e.g. to float64 in tests), whatever the backbone computes in."""
        return self.head(hidden.to(self.head.weight.dtype)).squeeze(-1)


def hidden_size(model: torch.nn.Module) -> int:
    return model.config.get_text_config().hidden_size


def build_critic(cfg: CriticConfig, policy: torch.nn.Module) -> Critic:
    """The critic ``cfg`` describes, for ``policy`` (whose starting weights a copy takes)."""
    if cfg.model == SHARED:
        return Critic(hidden_size(policy), None)
    if cfg.model is None:
        backbone = copy.deepcopy(policy)
    else:
        from mmrft.models.loading import load_policy

        backbone, _ = load_policy(cfg.model)
        vocab, want = (
            backbone.config.get_text_config().vocab_size,
            policy.config.get_text_config().vocab_size,
        )
        if vocab != want:
            raise ValueError(
                f"critic.model {cfg.model!r} has vocabulary size {vocab} but the policy has "
                f"{want}: a separate critic must share the policy's tokenizer"
            )
    backbone.requires_grad_(True)
    lm_head, embed = backbone.get_output_embeddings(), backbone.get_input_embeddings()
    if lm_head is not None and lm_head.weight is not getattr(embed, "weight", None):
        # values read the hidden states: the LM head never gets a gradient, so it is frozen
        # (no AdamW state for it; DDP would wait forever for its gradient)
        lm_head.requires_grad_(False)
    device = next(policy.parameters()).device
    return Critic(hidden_size(backbone), backbone).to(device)


def critic_loss(
    cfg: CriticConfig,
    values: Tensor,
    old_values: Tensor,
    returns: Tensor,
    mask: Tensor,
    agg_mode: str,
    denominator: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Clipped value loss aggregated like the policy loss; values/old_values/returns/mask [n, L].
    ``denominator``: the mini-batch's normaliser when these rows are a micro-batch of it."""
    loss_mat, metrics = value_loss(values, old_values, returns, mask, clip=cfg.value_clip)
    loss = agg_loss(loss_mat, mask, agg_mode, denominator=denominator)
    metrics["critic/vf_loss"] = loss.item()
    metrics["critic/explained_var"] = explained_variance(values.detach(), returns, mask)
    return loss, metrics
