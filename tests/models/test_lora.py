"""LoRA and freezing helpers on every family's tiny model: what trains, what merges, what exports."""

from __future__ import annotations

import pytest
import torch
from logprob_reference import IMAGE_AND_TEXT_FAMILIES, IMAGE_FAMILIES

from mmrft.models import family_for, load_policy
from mmrft.models.logprobs import completion_logprobs
from mmrft.models.lora import (
    apply_lora,
    freeze_projector,
    freeze_vision,
    merge_lora,
    save_merged,
    trainable_parameters,
)
from mmrft.rollout import HFSampler, SamplingParams

NAMES = IMAGE_AND_TEXT_FAMILIES


def _fresh(name):
    model, processor = load_policy(name)
    return model, processor, family_for(model.config.model_type, processor)


def _step(model, family, samples, lr=1e-2):
    """Generate with the (adapted) policy, then one AdamW step on the mean completion log-prob."""
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=2, max_new_tokens=4, seed=0)
    )
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    logp, _ = completion_logprobs(
        model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
    )
    (-logp.sum() / batch.completion_mask.sum()).backward()
    optimizer.step()
    return batch


@pytest.mark.parametrize("name", NAMES)
def test_lora_adapts_language_model_only_and_merges_exactly(name, count_samples, tmp_path):
    model, processor, family = _fresh(name)
    num_layers = model.config.get_text_config().num_hidden_layers
    model = apply_lora(model, family, rank=4, alpha=8)
    adapted = [n for n, m in model.named_modules() if hasattr(m, "lora_A") and n.endswith("_proj")]
    # 7 projections (q, k, v, o, gate, up, down) per decoder layer, none in the vision tower
    assert len(adapted) == 7 * num_layers
    for path in family.vision_tower:
        assert not any(f".{path}." in f".{n}" for n in adapted)

    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    batch = _step(model, family, count_samples[:2])
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
    assert changed and all("lora_" in n for n in changed)  # base weights untouched
    assert any("lora_B" in n for n in changed)  # B left zero: the adapter now does something

    inputs = batch.prompt_inputs
    with torch.no_grad():
        adapted_logits = model(**inputs).logits
        with model.disable_adapter():
            base_logits = model(**inputs).logits
    assert not torch.allclose(adapted_logits, base_logits, atol=1e-4)

    save_merged(model, processor, tmp_path)  # on a copy: the adapted model stays usable
    assert trainable_parameters(model)["trainable"] < trainable_parameters(model)["total"]
    merged = merge_lora(model)
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    with torch.no_grad():
        assert torch.allclose(merged(**inputs).logits, adapted_logits, atol=1e-5)
        reloaded, _ = load_policy(str(tmp_path))
        assert torch.allclose(reloaded(**inputs).logits, adapted_logits, atol=1e-5)


@pytest.mark.parametrize("name", IMAGE_FAMILIES)
def test_freeze_vision_and_projector(name):
    model, _, family = _fresh(name)
    vision = {
        n
        for path in family.vision_tower
        for n, _ in model.get_submodule(path).named_parameters(prefix=path)
    }
    projector = {
        n
        for path in family.projector
        for n, _ in model.get_submodule(path).named_parameters(prefix=path)
    }
    assert vision and projector

    frozen = freeze_vision(model, family, projector=False)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not (vision - projector) & trainable  # encoder frozen
    assert projector <= trainable  # connector still trains (Qwen's merger sits inside `visual`)
    assert frozen == sum(p.numel() for n, p in model.named_parameters() if n in vision - projector)

    freeze_projector(model, family)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert not (vision | projector) & trainable
    assert any(n.startswith(family.language_model + ".") for n in trainable)


def test_freeze_vision_under_lora_wrapper():
    """Module paths resolve through a peft wrapper too (LoRA plus a frozen encoder)."""
    model, _, family = _fresh("tiny-qwen2.5-vl")
    model = apply_lora(model, family, rank=4, modules_to_save=list(family.projector))
    assert any("merger" in n for n, p in model.named_parameters() if p.requires_grad)
    freeze_vision(model, family)
    assert not any("merger" in n for n, p in model.named_parameters() if p.requires_grad)


def test_shared_vision_pass_works_under_lora(count_samples):
    """The trainer's one-vision-pass-per-group path reaches the encoder through the wrapper."""
    model, _, family = _fresh("tiny-qwen2.5-vl")
    model = apply_lora(model, family, rank=4)
    batch = HFSampler(model, family).generate(
        count_samples[:2], SamplingParams(n=2, max_new_tokens=4, seed=0)
    )
    shared = family.share_vision(model, batch.prompt_inputs, [0, 0, 2, 2])
    assert "pixel_values" not in shared
    ids, mask = batch.completion_ids, batch.completion_mask
    with torch.no_grad():
        plain, _ = completion_logprobs(model, batch.prompt_inputs, ids, mask)
        reused, _ = completion_logprobs(model, shared, ids, mask)
    assert torch.allclose(plain, reused, atol=1e-5)
