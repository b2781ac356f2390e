"""Every model family end to end on a tiny offline model: processor call, placeholders,
generate, log-probs against a full forward pass, a training step, save/load round trip."""

from __future__ import annotations

import copy

import pytest
import torch
from logprob_reference import nll_step, reference_logprobs

from mmrft.data.sample import Sample
from mmrft.models import FAMILIES, TINY_MODELS, family_for, load_policy, save_policy
from mmrft.models.families import Qwen2VLFamily, Qwen3VLFamily, QwenVLFamily
from mmrft.models.families_anyres import SmolVLMFamily
from mmrft.models.logprobs import completion_logprobs
from mmrft.rewards.grounding import BOX_FORMATS
from mmrft.rollout import HFSampler, SamplingParams

# builtin name -> placeholder tokens for a 112x112 image (alone, and each of two in one prompt);
# 0: text-only
TOKENS_PER_IMAGE = {
    "tiny-qwen2-vl": (16, 16),  # 112x112 -> 8x8 patches of 14 px -> 2x2 merge
    "tiny-qwen2.5-vl": (16, 16),
    "tiny-qwen3-vl": (16, 16),  # resized to 128x128 -> 8x8 patches of 16 px -> 2x2 merge
    "tiny-smolvlm": (4, 4),  # 64x64 -> 4x4 patches of 16 px -> pixel shuffle by 2
    "tiny-smolvlm2": (4, 4),  # same, model_type "smolvlm" (its processor needs num2words)
    "tiny-llava": (16, 16),  # 56x56 crop -> 4x4 patches of 14 px (+ CLS, dropped)
    # any-res: a square image's best pinpoint is 56x56 = one tile of 4x4 patches -> 4x4
    # features (no unpadding when square) + 4 newlines + the 4x4 base view = 16 + 4 + 16
    "tiny-llava-next": (36, 36),
    # same when alone; several images in one prompt: base view + 1 newline each = 16 + 1
    "tiny-llava-onevision": (36, 17),
    "tiny-gemma3": (4, 4),  # 64x64 -> 4x4 patches of 16 px -> 2x2 average pool
    "tiny-internvl": (4, 4),  # square -> one 56-px tile (no thumbnail) -> 4x4 -> shuffle 0.5
    "tiny-qwen3": (0, 0),
}
NAMES = list(TOKENS_PER_IMAGE)


@pytest.fixture(scope="module", params=NAMES)
def built(request):
    if request.param == "tiny-smolvlm2":
        pytest.importorskip("num2words", reason="SmolVLMProcessor imports num2words")
    model, processor = load_policy(request.param)
    return request.param, model, processor, family_for(model.config.model_type, processor)


@pytest.fixture(scope="module")
def samples(count_samples):
    """One single-image prompt and one two-image prompt (every VLM family takes several)."""
    a, b, c = count_samples[:3]
    two = Sample(
        id="two",
        prompt="Which image has more shapes?",
        answer="1",
        images=[b.images[0], c.images[0]],
    )
    return [a, two]


def _image_token_id(config) -> int:
    return getattr(config, "image_token_id", None) or config.image_token_index


def test_every_builtin_family_is_registered():
    for name in NAMES:
        assert name in TINY_MODELS
    for model_type in (
        "qwen2_vl",
        "qwen2_5_vl",
        "qwen3_vl",
        "idefics3",
        "smolvlm",
        "llava",
        "llava_next",
        "llava_onevision",
        "gemma3",
        "internvl",
        "qwen3",
    ):
        family = FAMILIES.get(model_type)
        assert family.box_format is None or family.box_format in BOX_FORMATS
    # the documented conventions (sources in docs/models.md)
    assert Qwen2VLFamily.box_format == "rel1000" and Qwen3VLFamily.box_format == "rel1000"
    assert QwenVLFamily.box_format == "resized" and SmolVLMFamily.box_format is None


def test_processor_places_image_tokens(built, samples):
    name, model, _, family = built
    inputs = family.encode(samples)
    assert inputs["input_ids"].shape[0] == 2
    alone, each_of_two = TOKENS_PER_IMAGE[name]
    if not alone:
        assert set(inputs) == {"input_ids", "attention_mask"}  # images ignored
        return
    image_id = _image_token_id(model.config)
    is_image = inputs["input_ids"] == image_id  # [2, P]
    assert is_image.sum(1).tolist() == [alone, 2 * each_of_two]
    # one slot per image: runs of image tokens (each image's tokens are contiguous)
    starts = is_image & ~torch.nn.functional.pad(is_image, (1, 0))[:, :-1]
    assert starts.sum(1).tolist() == [1, 2]
    assert image_id in family.suppressed_token_ids()


def test_generate_then_logprobs_match_full_forward(built, samples):
    _, model, _, family = built
    sampler = HFSampler(model, family)
    batch = sampler.generate(samples, SamplingParams(n=2, max_new_tokens=6, seed=0))
    assert batch.completion_ids.shape[0] == 4 and batch.sample_index == [0, 0, 1, 1]
    for token in sampler.suppressed:  # placeholders never sampled
        assert not (batch.completion_ids == token).any()
    ids, mask = batch.completion_ids, batch.completion_mask
    with torch.no_grad():
        logp, _ = completion_logprobs(model, batch.prompt_inputs, ids, mask)
    reference = reference_logprobs(model, batch.prompt_inputs, ids, mask)
    assert torch.allclose(logp, reference, atol=1e-5)


def test_one_training_step_changes_language_and_vision_weights(built, samples):
    name, _, _, family = built
    model, _ = load_policy(name)  # a fresh copy to train
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=2, max_new_tokens=4, seed=0)
    )
    changed = nll_step(model, batch)
    assert any(n.startswith(family.language_model) for n in changed)
    for path in family.vision_tower:  # gradients reach the vision encoder through the image tokens
        assert any(n.startswith(path + ".") for n in changed), path


def test_save_and_load_round_trip(built, samples, tmp_path):
    _, model, processor, family = built
    save_policy(model, processor, tmp_path)
    reloaded, reprocessor = load_policy(str(tmp_path))
    assert type(reloaded) is type(model)
    refamily = family_for(reloaded.config.model_type, reprocessor)
    assert type(refamily) is type(family)
    a, b = family.encode(samples), refamily.encode(samples)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    with torch.no_grad():
        assert torch.equal(model(**a).logits, reloaded(**b).logits)


def test_qwen2_vl_shares_one_vision_pass_per_group(count_samples):
    """Qwen2-VL takes precomputed encoder outputs like Qwen2.5-VL: same log-probs, one pass."""
    model, processor = load_policy("tiny-qwen2-vl")
    family = family_for(model.config.model_type, processor)
    batch = HFSampler(model, family).generate(
        count_samples[:2], SamplingParams(n=3, max_new_tokens=4, seed=0)
    )
    shared = family.share_vision(model, batch.prompt_inputs, [0, 0, 0, 3, 3, 3])
    assert "pixel_values" not in shared
    with torch.no_grad():
        plain, _ = completion_logprobs(
            model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
        )
        reused, _ = completion_logprobs(model, shared, batch.completion_ids, batch.completion_mask)
    assert torch.allclose(plain, reused, atol=1e-5)


def test_pixel_budget_only_where_the_family_has_one(count_samples):
    """Qwen: min/max_pixels fix the area, 56x56 -> 4x4 patches -> 4 tokens. LLaVA: untouched."""
    model, processor = load_policy("tiny-qwen2-vl")
    family = family_for(model.config.model_type, processor)
    family.apply_pixel_budget(processor, 56 * 56, 56 * 56)
    inputs = family.encode(count_samples[:1])
    assert (inputs["input_ids"] == model.config.image_token_id).sum().item() == 4

    model, processor = load_policy("tiny-llava")
    size = copy.deepcopy(processor.image_processor.size)
    family_for(model.config.model_type, processor).apply_pixel_budget(processor, 56 * 56, 56 * 56)
    assert processor.image_processor.size == size
