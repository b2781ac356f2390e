"""Per-token log-probs agree with an independent full forward pass, regardless of padding."""

from __future__ import annotations

import torch
from logprob_reference import reference_logprobs

from mmrft.models.logprobs import completion_logprobs


def test_logprobs_match_full_forward(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    prompt = vlm_family.encode(count_samples[:4])
    torch.manual_seed(0)
    ids = torch.randint(10, 300, (4, 6))
    mask = torch.tensor([[1.0] * 6, [1.0] * 3 + [0.0] * 3, [1.0] * 5 + [0.0], [1.0] * 6])
    with torch.no_grad():
        logp, logits = completion_logprobs(model, prompt, ids, mask)
    assert logits.shape == (4, 6, model.config.text_config.vocab_size)
    assert torch.allclose(logp, reference_logprobs(model, prompt, ids, mask), atol=1e-5)
    assert (logp[mask == 0] == 0).all()


def test_left_padding_does_not_change_logprobs(tiny_vlm, vlm_family, count_samples):
    """A prompt batched with a longer (system-prompted) one must get the same log-probs."""
    model, _ = tiny_vlm
    ids = torch.tensor([[40, 41, 42, 2]])
    mask = torch.ones(1, 4)
    alone = vlm_family.encode(count_samples[:1])
    longer = type(vlm_family)(
        processor=vlm_family.processor, system_prompt="Count carefully please."
    )
    mixed = longer.encode(count_samples[1:2])
    # pad the first prompt to the second's length by batching both through one processor call
    both_texts = [vlm_family.prompt_text(count_samples[0]), longer.prompt_text(count_samples[1])]
    tok = vlm_family.tokenizer
    tok.padding_side = "left"
    batch = dict(
        vlm_family.processor(
            text=both_texts,
            images=[count_samples[0].images[0], count_samples[1].images[0]],
            return_tensors="pt",
            padding=True,
        )
    )
    assert batch["input_ids"].shape[1] > alone["input_ids"].shape[1]  # row 0 really is padded
    with torch.no_grad():
        lp_alone, _ = completion_logprobs(model, alone, ids, mask)
        lp_batch, _ = completion_logprobs(model, batch, ids.repeat(2, 1), mask.repeat(2, 1))
        lp_mixed, _ = completion_logprobs(model, mixed, ids, mask)
    assert torch.allclose(lp_alone, lp_batch[:1], atol=1e-5)
    assert torch.allclose(lp_mixed, lp_batch[1:], atol=1e-5)


def test_suppressed_ids_renormalise(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    prompt = vlm_family.encode(count_samples[:1])
    ids, mask = torch.tensor([[40, 41]]), torch.ones(1, 2)
    sup = vlm_family.suppressed_token_ids()
    with torch.no_grad():
        plain, logits = completion_logprobs(model, prompt, ids, mask)
        masked, _ = completion_logprobs(model, prompt, ids, mask, suppressed_ids=sup)
    # removing tokens from the softmax adds log(1 / (1 - p_removed)) to every remaining token
    p_removed = torch.softmax(logits, -1)[..., sup].sum(-1)
    assert torch.allclose(masked, plain - torch.log1p(-p_removed), atol=1e-5)


def test_shared_vision_encoding_is_exact(fresh_vlm, vlm_family, count_samples):
    """Encoding a group's image once gives the same log-probs and the same gradients."""
    from mmrft.rollout import HFSampler, SamplingParams

    model, _ = fresh_vlm
    batch = HFSampler(model, vlm_family).generate(
        count_samples[:2], SamplingParams(n=3, max_new_tokens=5, seed=0)
    )
    source = [0, 0, 0, 3, 3, 3]
    shared = vlm_family.share_vision(model, batch.prompt_inputs, source)
    assert "pixel_values" not in shared and "mm_encoder_outputs" in shared
    results = []
    for inputs in (batch.prompt_inputs, shared):
        model.zero_grad()
        if inputs is shared:  # features must be recomputed inside this graph
            inputs = vlm_family.share_vision(model, batch.prompt_inputs, source)
        logp, _ = completion_logprobs(model, inputs, batch.completion_ids, batch.completion_mask)
        logp.sum().backward()
        results.append((logp.detach(), model.model.visual.patch_embed.proj.weight.grad.clone()))
    assert torch.allclose(results[0][0], results[1][0], atol=1e-5)
    assert torch.allclose(results[0][1], results[1][1], atol=1e-5, rtol=1e-4)
