"""The independent reference the log-prob tests compare against (shared by the model tests)."""

from __future__ import annotations

import torch

from mmrft.models.logprobs import concat_prompt_completion


def reference_logprobs(model, prompt_inputs, ids, mask):
    """Full-sequence forward (no logits_to_keep), sliced and log-softmaxed by hand: [N, L]."""
    inputs = concat_prompt_completion(prompt_inputs, ids, mask)
    with torch.no_grad():
        logits = model(**inputs).logits  # [N, P+L, V]
    P, L = prompt_inputs["input_ids"].shape[1], ids.shape[1]
    logp = torch.log_softmax(logits[:, P - 1 : P + L - 1].float(), -1)
    return logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1) * mask
