"""The shared-prompt forward equals the plain one: logits, final hidden states and the gradients
of a loss through them, for every registered architecture, with prompts of different lengths
(left padding), completions of different lengths (right padding) and, for the VLMs, one image,
two images and no image in one batch.

Float64, with one adjustment: transformers' RMSNorm computes in float32 whatever the model's
dtype, so the gradient entering it is rounded to float32. The shared path rounds a group's
summed gradient once, the plain path each row's, which differs by float32 rounding (measured
~6e-8 of the largest entry below the last layer). The test gives the norms their input dtype
(``_norms_in_input_dtype``); the two paths then agree to 1e-9."""

from __future__ import annotations

import pytest
import torch

from mmrft.models.logprobs import completion_forward
from mmrft.models.shared_prompt import (
    POSITIONS,
    shared_prompt_forward,
    supports_shared_prompt,
)
from mmrft.rollout import HFSampler, SamplingParams

MODELS = ["tiny-qwen2", "tiny-qwen3", "tiny-qwen2-vl", "tiny-qwen2.5-vl", "tiny-qwen3-vl"]


def _batch(mixed_prompts, name: str):
    model, family, samples = mixed_prompts(name)
    params = SamplingParams(n=3, temperature=1.0, max_new_tokens=8, seed=0)
    batch = HFSampler(model, family, share_prefill=False).generate(samples, params)
    keep = torch.tensor([8 - r % 5 for r in range(len(batch.texts))])  # unequal lengths
    batch.completion_mask = (torch.arange(8) < keep[:, None]).to(batch.completion_mask.dtype)
    batch.completion_ids = batch.completion_ids.masked_fill(batch.completion_mask == 0, 0)
    model = model.double()
    assert _norms_in_input_dtype(model) >= 2 * model.config.get_text_config().num_hidden_layers
    return model, batch


def _rms_norm(self, hidden: torch.Tensor) -> torch.Tensor:
    """RMSNorm in the input's dtype (transformers casts to float32 first)."""
    eps = getattr(self, "variance_epsilon", getattr(self, "eps", 1e-6))
    return self.weight * (hidden * torch.rsqrt(hidden.pow(2).mean(-1, keepdim=True) + eps))


def _norms_in_input_dtype(model: torch.nn.Module) -> int:
    norms = [m for m in model.modules() if type(m).__name__.endswith("RMSNorm")]
    for norm in norms:
        norm.forward = _rms_norm.__get__(norm)
    return len(norms)


def _outputs(model, batch, rows: list[int], shared: bool):
    """Logits and hidden states of ``rows`` (either path) and the gradients of a fixed loss."""
    model.zero_grad(set_to_none=True)
    prompt = {k: v.double() if v.is_floating_point() else v for k, v in batch.select(rows).items()}
    ids, mask = batch.completion_ids[rows], batch.completion_mask[rows]
    if shared:
        order = list(dict.fromkeys(batch.sample_index[r] for r in rows))  # distinct prompts
        row_prompt = [order.index(batch.sample_index[r]) for r in rows]
        firsts = [rows[row_prompt.index(u)] for u in range(len(order))]
        unique = {
            k: v.double() if v.is_floating_point() else v for k, v in batch.select(firsts).items()
        }
        logits, states = shared_prompt_forward(
            model, prompt, unique, row_prompt, ids, mask, hidden=True
        )
    else:
        logits, states = completion_forward(model, prompt, ids, mask, hidden=True)
    weights = torch.linspace(-1, 1, logits.shape[-1], dtype=logits.dtype)
    loss = ((logits.log_softmax(-1) * weights).sum(-1) * mask).sum() + (
        states**2 * mask[..., None]
    ).mean()
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return logits.detach(), states.detach(), mask.bool(), grads


@pytest.mark.parametrize("name", MODELS)
def test_shared_prompt_forward_equals_plain(mixed_prompts, name):
    model, batch = _batch(mixed_prompts, name)
    assert model.config.model_type in POSITIONS and supports_shared_prompt(model)
    n = len(batch.texts)
    # whole groups in order, then a shuffled subset where some prompts appear once
    for rows in (list(range(n)), [n - 1, 0, n // 2, 2, 1, n - 2]):
        want_logits, want_states, mask, want_grads = _outputs(model, batch, rows, shared=False)
        logits, states, _, grads = _outputs(model, batch, rows, shared=True)
        torch.testing.assert_close(logits[mask], want_logits[mask], atol=1e-9, rtol=1e-9)
        torch.testing.assert_close(states[mask], want_states[mask], atol=1e-9, rtol=1e-9)
        assert grads.keys() == want_grads.keys() and len(grads) > 10
        for key, grad in want_grads.items():
            torch.testing.assert_close(grads[key], grad, atol=1e-9, rtol=1e-9, msg=key)


def _count_tokens(model) -> list[tuple[int, ...]]:
    """The input_ids shape of every model call from now on (text models)."""
    seen: list[tuple[int, ...]] = []
    model.get_input_embeddings().register_forward_pre_hook(
        lambda module, args: seen.append(tuple(args[0].shape))
    )
    return seen


@pytest.mark.parametrize("name", ["tiny-qwen2", "tiny-qwen2.5-vl"])
def test_one_token_completions_equal_plain(mixed_prompts, name):
    """L = 1: still two model calls (FSDP2 ranks must make as many as each other), the prompt
    pass stopping a token short so the rows forward the last prompt token."""
    model, batch = _batch(mixed_prompts, name)
    batch.completion_ids, batch.completion_mask = (
        batch.completion_ids[:, :1],
        (batch.completion_mask[:, :1]),
    )
    rows = list(range(len(batch.texts)))
    want_logits, want_states, mask, want_grads = _outputs(model, batch, rows, shared=False)
    seen = _count_tokens(model)
    logits, states, _, grads = _outputs(model, batch, rows, shared=True)
    n, P = batch.prompt_inputs["input_ids"].shape
    assert seen == [(len(set(batch.sample_index)), P - 1), (n, 1)]
    assert logits.shape == want_logits.shape and logits.shape[1] == 1
    torch.testing.assert_close(logits[mask], want_logits[mask], atol=1e-9, rtol=1e-9)
    torch.testing.assert_close(states[mask], want_states[mask], atol=1e-9, rtol=1e-9)
    for key, grad in want_grads.items():
        torch.testing.assert_close(grads[key], grad, atol=1e-9, rtol=1e-9, msg=key)


def test_prompt_forwarded_once_and_rows_without_their_last_token(mixed_prompts):
    """The token work: U x P prompt tokens once, then n x (L - 1) completion tokens; the plain
    forward takes n x (P + L)."""
    model, batch = _batch(mixed_prompts, "tiny-qwen2")
    seen = _count_tokens(model)
    rows = list(range(len(batch.texts)))
    _outputs(model, batch, rows, shared=True)
    n, P = batch.prompt_inputs["input_ids"].shape
    L = batch.completion_ids.shape[1]
    U = len(set(batch.sample_index))
    assert n > U and seen == [(U, P), (n, L - 1)]
