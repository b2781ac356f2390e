"""Per-token log-probabilities of completions under a policy: the one forward pass RL needs.

Notation: N rows (prompts, each repeated per sample), P prompt length (left padded),
L completion length (right padded), V vocabulary.
"""

from __future__ import annotations

import torch
from torch import Tensor


def concat_prompt_completion(
    prompt_inputs: dict[str, Tensor], completion_ids: Tensor, completion_mask: Tensor
) -> dict[str, Tensor]:
    """Model inputs for prompt+completion: ids/masks extended by L; vision keys passed through."""
    inputs = dict(
        prompt_inputs
    )  # may carry precomputed "mm_encoder_outputs" (see ModelFamily.share_vision)
    inputs["input_ids"] = torch.cat([prompt_inputs["input_ids"], completion_ids], dim=1)  # [N, P+L]
    inputs["attention_mask"] = torch.cat(
        [
            prompt_inputs["attention_mask"],
            completion_mask.to(prompt_inputs["attention_mask"].dtype),
        ],
        dim=1,
    )  # [N, P+L]
    if "mm_token_type_ids" in prompt_inputs:  # completion tokens are text (type 0)
        mm = prompt_inputs["mm_token_type_ids"]
        inputs["mm_token_type_ids"] = torch.cat(
            [mm, torch.zeros_like(completion_ids, dtype=mm.dtype)], 1
        )
    return inputs


def completion_forward(
    model: torch.nn.Module,
    prompt_inputs: dict[str, Tensor],
    completion_ids: Tensor,
    completion_mask: Tensor,
    *,
    hidden: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Logits [N, L, V] predicting each completion token, and (``hidden``) the final hidden
    states [N, L, H] they are computed from — what a value head reads (V(s_t) sits beside the
    logits that predict token t)."""
    L = completion_ids.shape[1]
    inputs = concat_prompt_completion(prompt_inputs, completion_ids, completion_mask)
    # Only the last L+1 positions are needed; logits_to_keep spares the [N, P, V] prompt logits.
    out = model(**inputs, use_cache=False, logits_to_keep=L + 1, output_hidden_states=hidden)
    states = out.hidden_states[-1][:, -(L + 1) : -1, :] if hidden else None  # [N, L, H]
    # sliced from the end: a model that ignores logits_to_keep (Qwen2-Audio) returns all P+L
    return out.logits[:, -(L + 1) : -1, :], states  # [N, L, V]: position t predicts token t


def completion_logits(
    model: torch.nn.Module,
    prompt_inputs: dict[str, Tensor],
    completion_ids: Tensor,
    completion_mask: Tensor,
) -> Tensor:
    """Logits predicting each completion token: [N, L, V]."""
    return completion_forward(model, prompt_inputs, completion_ids, completion_mask)[0]


def token_logprobs(
    logits: Tensor, token_ids: Tensor, *, temperature: float = 1.0, suppressed_ids: list[int] = ()
) -> Tensor:
    """log p(token) under softmax(logits / T) with suppressed ids removed, exactly as sampled.

    logits [N, L, V], token_ids [N, L] -> [N, L]
    """
    logits = logits.float() / max(temperature, 1e-6)  # [N, L, V]
    if suppressed_ids:
        logits = logits.index_fill(
            -1, torch.tensor(list(suppressed_ids), device=logits.device), float("-inf")
        )
    logp = torch.log_softmax(logits, dim=-1)  # [N, L, V]
    return logp.gather(-1, token_ids.unsqueeze(-1)).squeeze(-1)  # [N, L]


def completion_logprobs(
    model: torch.nn.Module,
    prompt_inputs: dict[str, Tensor],
    completion_ids: Tensor,
    completion_mask: Tensor,
    *,
    temperature: float = 1.0,
    suppressed_ids: list[int] = (),
    hidden: bool = False,
) -> tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]:
    """Per-token log-probs [N, L] (0 at padding) and logits [N, L, V] for entropy; with
    ``hidden`` also the final hidden states [N, L, H] (for a value head on this backbone)."""
    logits, states = completion_forward(
        model, prompt_inputs, completion_ids, completion_mask, hidden=hidden
    )
    logp = token_logprobs(
        logits, completion_ids, temperature=temperature, suppressed_ids=suppressed_ids
    )
    logp = logp * completion_mask
    return (logp, logits, states) if hidden else (logp, logits)
