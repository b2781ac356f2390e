"""Tiny offline models: build, generate from an image prompt, save -> from_pretrained round trip."""

from __future__ import annotations

import torch
from transformers import AutoProcessor, AutoTokenizer

from mmrft.models import family_for, load_policy, save_policy
from mmrft.models.tokenizer import train_tokenizer


def test_tokenizer_is_deterministic_and_survives_reload(tmp_path):
    a, b = train_tokenizer(), train_tokenizer()
    assert a.get_vocab() == b.get_vocab()
    text = "<answer>42</answer> How many shapes are in the image? Ünïcode"
    a.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert reloaded(text)["input_ids"] == a(text)["input_ids"]
    assert a.decode(a(text)["input_ids"]) == text


def test_tiny_vlm_generates_from_image_prompt(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    inputs = vlm_family.encode(count_samples[:2])
    # 112x112 image -> 8x8 patches -> 2x2 merge -> 16 image tokens per prompt
    image_id = model.config.image_token_id
    assert (inputs["input_ids"] == image_id).sum(1).tolist() == [16, 16]
    P = inputs["input_ids"].shape[1]
    out = model.generate(
        **inputs,
        max_new_tokens=5,
        do_sample=False,
        suppress_tokens=vlm_family.suppressed_token_ids(),
    )
    assert out.shape[0] == 2 and P < out.shape[1] <= P + 5
    assert torch.equal(out[:, :P], inputs["input_ids"])


def test_vlm_round_trip_through_from_pretrained(tmp_path, tiny_vlm, count_samples):
    model, processor = tiny_vlm
    save_policy(model, processor, tmp_path)
    # the pixel budget from config is applied on load; 112*112 keeps the tiny model's 16 tokens
    reloaded, reprocessor = load_policy(str(tmp_path), min_pixels=112 * 112, max_pixels=112 * 112)
    assert type(reloaded) is type(model)
    assert isinstance(AutoProcessor.from_pretrained(tmp_path), type(reprocessor))
    fam_a = family_for(model.config.model_type, processor)
    fam_b = family_for(reloaded.config.model_type, reprocessor)
    a, b = fam_a.encode(count_samples[:3]), fam_b.encode(count_samples[:3])
    assert torch.equal(a["input_ids"], b["input_ids"])
    assert torch.equal(a["pixel_values"], b["pixel_values"])
    with torch.no_grad():
        assert torch.allclose(model(**a).logits, reloaded(**b).logits, atol=1e-6)


def test_text_lm_round_trip(tmp_path):
    model, tok = load_policy("tiny-qwen2")
    ids = tok(["How many shapes?"], return_tensors="pt")
    save_policy(model, tok, tmp_path)
    reloaded, _ = load_policy(str(tmp_path))
    with torch.no_grad():
        assert torch.allclose(model(**ids).logits, reloaded(**ids).logits, atol=1e-6)


def test_unknown_model_name_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="tiny-qwen2.5-vl"):
        load_policy("no-such-model")
