"""Shared by the model tests: the independent references they compare against, the builtin
families they run over, and the one training step they take."""

from __future__ import annotations

import torch

from mmrft.models.logprobs import completion_logprobs, concat_prompt_completion

# One tiny builtin per image family, plus a text LM.
IMAGE_AND_TEXT_FAMILIES = [
    "tiny-qwen2-vl",
    "tiny-qwen2.5-vl",
    "tiny-qwen3-vl",
    "tiny-smolvlm",
    "tiny-llava",
    "tiny-llava-next",
    "tiny-llava-onevision",
    "tiny-gemma3",
    "tiny-internvl",
    "tiny-qwen3",
]
IMAGE_FAMILIES = IMAGE_AND_TEXT_FAMILIES[:-1]


def reference_logprobs(model, prompt_inputs, ids, mask):
    """Full-sequence forward (no logits_to_keep), sliced and log-softmaxed by hand: [N, L]."""
    inputs = concat_prompt_completion(prompt_inputs, ids, mask)
    with torch.no_grad():
        logits = model(**inputs).logits  # [N, P+L, V]
    P, L = prompt_inputs["input_ids"].shape[1], ids.shape[1]
    logp = torch.log_softmax(logits[:, P - 1 : P + L - 1].float(), -1)
    return logp.gather(-1, ids.unsqueeze(-1)).squeeze(-1) * mask


def logprobs_and_embeds(model, prompt_inputs, ids, mask) -> tuple[torch.Tensor, torch.Tensor]:
    """One plain forward over prompt + the completion ``ids`` [1, L] for every row: completion
    log-probs [N, L] and the LM's input embeddings over the prompt [N, P, H] (image or audio
    features sit at their placeholder tokens)."""
    n = prompt_inputs["input_ids"].shape[0]
    inputs = concat_prompt_completion(prompt_inputs, ids.repeat(n, 1), mask.repeat(n, 1))
    with torch.no_grad():
        out = model(**inputs, output_hidden_states=True)
    P, L = prompt_inputs["input_ids"].shape[1], ids.shape[1]
    logp = torch.log_softmax(out.logits[:, P - 1 : P + L - 1].float(), -1)  # [N, L, V]
    logp = logp.gather(-1, ids.repeat(n, 1).unsqueeze(-1)).squeeze(-1)  # [N, L]
    return logp, out.hidden_states[0][:, :P]


def nll_step(model, batch, lr: float = 1e-2) -> set[str]:
    """One AdamW step on the completions' mean NLL; the names of the parameters it changed."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    logp, _ = completion_logprobs(
        model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
    )
    (-logp.sum() / batch.completion_mask.sum()).backward()
    optimizer.step()
    return {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
