"""HF rollout engine: group layout, EOS masking, suppressed tokens, row selection."""

from __future__ import annotations

import torch

from mmrft.models.logprobs import completion_logprobs
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.rollout.hf import completion_mask_from_ids


def test_completion_mask_stops_after_first_eos():
    eos, pad = 2, 0
    ids = torch.tensor([[5, 6, 2, 0, 0], [5, 2, 7, 2, 0], [5, 6, 7, 8, 9]])
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float)
    assert torch.equal(completion_mask_from_ids(ids, eos, pad), expected)


def test_generate_group_layout_and_masks(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    sampler = HFSampler(model, vlm_family, batch_size=5)  # forces 3 chunks for 12 rows
    batch = sampler.generate(count_samples[:3], SamplingParams(n=4, max_new_tokens=6, seed=0))
    assert batch.sample_index == [0] * 4 + [1] * 4 + [2] * 4
    assert batch.completion_ids.shape[0] == 12 and len(batch.texts) == 12
    assert batch.prompt_inputs["input_ids"].shape[0] == 12
    assert batch.prompt_inputs["image_grid_thw"].shape == (12, 3)
    # padding after EOS is masked and filled with pad
    pad = vlm_family.tokenizer.pad_token_id
    assert (batch.completion_ids[batch.completion_mask == 0] == pad).all()


def test_seeded_generation_repeats(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    sampler = HFSampler(model, vlm_family)
    a = sampler.generate(count_samples[:2], SamplingParams(n=3, max_new_tokens=6, seed=7))
    b = sampler.generate(count_samples[:2], SamplingParams(n=3, max_new_tokens=6, seed=7))
    assert torch.equal(a.completion_ids, b.completion_ids)


def test_suppressed_tokens_are_never_sampled(fresh_vlm, vlm_family, count_samples):
    """Make <|image_pad|> the most likely token: it must still never appear in completions."""
    model, _ = fresh_vlm
    image_id = model.config.image_token_id
    with torch.no_grad():
        model.lm_head.weight[image_id] *= 0
        model.lm_head.weight[image_id] += model.lm_head.weight.abs().max() * 50
    sampler = HFSampler(model, vlm_family)
    batch = sampler.generate(count_samples[:2], SamplingParams(n=4, max_new_tokens=8, seed=0))
    assert not (batch.completion_ids == image_id).any()
    # and the trainer can score what was sampled (no "image features and tokens do not match")
    logp, _ = completion_logprobs(
        model,
        batch.prompt_inputs,
        batch.completion_ids,
        batch.completion_mask,
        suppressed_ids=sampler.suppressed,
    )
    assert torch.isfinite(logp).all()


def test_select_rows_matches_full_batch(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    batch = HFSampler(model, vlm_family).generate(
        count_samples[:3], SamplingParams(n=2, max_new_tokens=5, seed=1)
    )
    rows = [5, 0, 3]
    with torch.no_grad():
        full, _ = completion_logprobs(
            model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
        )
        part, _ = completion_logprobs(
            model, batch.select(rows), batch.completion_ids[rows], batch.completion_mask[rows]
        )
    assert torch.allclose(full[rows], part, atol=1e-5)
