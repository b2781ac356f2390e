"""Shared prompt prefill in the HF rollout is exact: same completions, same log-probs as the
plain path (each of the n copies prefilled on its own), and the log-probs it records equal a
teacher-forced forward of what it produced. Prompts of different lengths (left padding) and,
for the VLMs, one image, two images and no image in the same batch."""

from __future__ import annotations

import pytest
import torch

from mmrft.models import family_for, load_policy
from mmrft.models.logprobs import completion_logprobs
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.rollout.shared_prefill import PREFILLS, supports_shared_prefill
from mmrft.tasks import TASKS

MODELS = ["tiny-qwen2", "tiny-qwen3", "tiny-qwen2-vl", "tiny-qwen2.5-vl", "tiny-qwen3-vl"]


def _pair(model, family, samples, params, batch_size=256):
    plain = HFSampler(model, family, batch_size=batch_size, share_prefill=False)
    shared = HFSampler(model, family, batch_size=batch_size)
    assert shared.share_prefill and not plain.share_prefill
    return plain.generate(samples, params), shared.generate(samples, params)


@pytest.mark.parametrize("name", MODELS)
def test_shared_prefill_equals_plain_generate(mixed_prompts, name):
    model, family, samples = mixed_prompts(name)
    assert supports_shared_prefill(model)
    # sampled: same seed, same draws from (numerically) the same distributions
    params = SamplingParams(n=4, temperature=1.0, max_new_tokens=8, seed=0)
    plain, shared = _pair(model, family, samples, params, batch_size=8)  # 2 chunks
    assert torch.equal(shared.completion_ids, plain.completion_ids)
    assert torch.equal(shared.completion_mask, plain.completion_mask)
    assert shared.texts == plain.texts
    torch.testing.assert_close(shared.logprobs, plain.logprobs, atol=1e-5, rtol=1e-5)
    for key, value in plain.prompt_inputs.items():  # the trainer gets the same prompt rows
        assert torch.equal(shared.prompt_inputs[key], value), key
    # greedy, one prompt per chunk: a text-only chunk follows an image chunk (no stale state)
    greedy = SamplingParams(n=3, temperature=0.0, max_new_tokens=8)
    plain, shared = _pair(model, family, samples, greedy, batch_size=3)
    assert torch.equal(shared.completion_ids, plain.completion_ids)


@pytest.mark.parametrize("name", ["tiny-qwen2", "tiny-qwen2.5-vl"])
def test_shared_prefill_logprobs_equal_a_teacher_forced_forward(mixed_prompts, name):
    """The recorded log p(token) of every sampled token = log-softmax of the trainer's own
    forward over prompt + completion (which never sees a cache)."""
    model, family, samples = mixed_prompts(name)
    for temperature in (1.0, 0.7):
        batch = HFSampler(model, family).generate(
            samples, SamplingParams(n=4, temperature=temperature, max_new_tokens=10, seed=1)
        )
        with torch.no_grad():
            want, _ = completion_logprobs(
                model,
                batch.prompt_inputs,
                batch.completion_ids,
                batch.completion_mask,
                temperature=temperature,
                suppressed_ids=family.suppressed_token_ids(),
            )
        mask = batch.completion_mask.bool()
        torch.testing.assert_close(batch.logprobs[mask], want[mask], atol=1e-4, rtol=1e-4)


def test_vision_encoder_runs_once_per_prompt(tiny_vlm, vlm_family, count_samples):
    """The point of sharing: n copies of an image prompt cost one vision encoding, not n."""
    model, _ = tiny_vlm
    patches: list[int] = []
    hook = model.model.visual.register_forward_hook(
        lambda mod, args, out: patches.append(args[0].shape[0])
    )
    try:
        params = SamplingParams(n=4, max_new_tokens=3, seed=0)
        HFSampler(model, vlm_family, share_prefill=False).generate(count_samples[:2], params)
        plain = sum(patches)
        patches.clear()
        HFSampler(model, vlm_family).generate(count_samples[:2], params)
        shared = sum(patches)
    finally:
        hook.remove()
    assert plain == 4 * shared > 0


def test_unregistered_architectures_take_the_plain_path():
    model, processor = load_policy("tiny-llava", seed=0)
    assert model.config.model_type not in PREFILLS
    family = family_for(model.config.model_type, processor)
    sampler = HFSampler(model, family)
    assert not sampler.share_prefill
    sample = TASKS.get("count")().generate(0, 1)
    batch = sampler.generate([sample], SamplingParams(n=2, max_new_tokens=3, seed=0))
    assert batch.completion_ids.shape[0] == 2


def test_config_key_switches_sharing_off():
    from mmrft.build import make_sampler
    from mmrft.config import load_config

    model, processor = load_policy("tiny-qwen2", seed=0)
    family = family_for(model.config.model_type, processor)
    assert make_sampler(load_config(None).rollout, model, family).share_prefill
    off = load_config(None, ["rollout.share_prefill=false"]).rollout
    assert not make_sampler(off, model, family).share_prefill
