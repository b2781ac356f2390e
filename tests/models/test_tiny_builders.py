"""The tiny builders' shared contract: size knobs by keyword (listed in each builtin's signature,
unknown ones refused by name), overrides reaching the model, the same weights for the same seed."""

from __future__ import annotations

import inspect

import pytest
import torch

from mmrft.models import TINY_MODELS, family_for
from mmrft.models.tiny import KNOBS, LM_KNOBS


def test_signatures_list_each_builtins_knobs_and_defaults():
    qwen = inspect.signature(TINY_MODELS.get("tiny-qwen2.5-vl")).parameters
    assert list(qwen) == ["seed", *KNOBS]
    assert qwen["image_size"].default == 112  # the side of the fixed 112x112 pixel budget
    assert inspect.signature(TINY_MODELS.get("tiny-llava")).parameters["image_size"].default == 56
    text = inspect.signature(TINY_MODELS.get("tiny-qwen2")).parameters
    assert list(text) == ["seed", *LM_KNOBS] and text["num_heads"].default == 2


def test_an_unknown_knob_is_refused_by_name():
    with pytest.raises(TypeError, match=r"tiny-qwen2 takes no \['vision_layers'\]"):
        TINY_MODELS.get("tiny-qwen2")(0, vision_layers=3)
    with pytest.raises(TypeError, match="tile"):  # renamed to image_size
        TINY_MODELS.get("tiny-llava-next")(0, tile=56)


def test_overrides_reach_the_lm_the_vision_tower_and_the_processor(count_samples):
    model, processor = TINY_MODELS.get("tiny-llava-next")(
        0, num_layers=3, vision_layers=1, hidden_size=64, num_heads=2
    )
    text = model.config.get_text_config()
    assert (text.num_hidden_layers, text.hidden_size, text.num_attention_heads) == (3, 64, 2)
    assert model.config.vision_config.num_hidden_layers == 1
    qwen, qwen_processor = TINY_MODELS.get("tiny-qwen2.5-vl")(0, image_size=56)
    inputs = family_for("qwen2_5_vl", qwen_processor).encode(count_samples[:1])
    # a 56x56 pixel budget: 4x4 patches of 14 px -> 2x2 merge -> 4 image tokens (112x112: 16)
    assert (inputs["input_ids"] == qwen.config.image_token_id).sum() == 4


def test_same_seed_same_weights_other_seed_other_weights():
    a = TINY_MODELS.get("tiny-qwen3")(0)[0].state_dict()
    b = TINY_MODELS.get("tiny-qwen3")(0)[0].state_dict()
    c = TINY_MODELS.get("tiny-qwen3")(1)[0].state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
