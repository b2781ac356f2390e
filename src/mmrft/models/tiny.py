"""Tiny, randomly initialised models built from configs: the offline stand-ins for real checkpoints.

They are real transformers classes (``Qwen2_5_VLForConditionalGeneration``, ``Qwen2ForCausalLM``)
with a project-trained tokenizer and an offline processor, so every code path — processor call,
mRoPE, generate, log-probs, ``save_pretrained`` / ``from_pretrained`` — is the one a hub
checkpoint takes. ``TINY_MODELS`` maps a builtin name (usable as ``model.name_or_path``) to a
builder; users register their own.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import (
    PreTrainedModel,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
)

from mmrft.models.tokenizer import train_tokenizer
from mmrft.registry import Registry

# builder(seed, **overrides) -> (model, processor_or_tokenizer)
TINY_MODELS: Registry[Callable[..., tuple[PreTrainedModel, object]]] = Registry("tiny model")


@TINY_MODELS.register("tiny-qwen2.5-vl")
def build_tiny_qwen2_5_vl(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_depth: int = 2,
    image_pixels: int = 112 * 112,
) -> tuple[Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor]:
    """A ~0.7M-parameter Qwen2.5-VL. A 112x112 image becomes an 8x8 patch grid -> 16 tokens.

    ``image_pixels`` fixes min_pixels = max_pixels so every image gets the same token count.
    """
    tokenizer = train_tokenizer()
    head_dim = hidden_size // num_heads
    # mRoPE splits head_dim/2 rotary frequencies over (temporal, height, width); must sum exactly.
    quarter = head_dim // 8
    mrope_section = [head_dim // 2 - 4 * quarter, 2 * quarter, 2 * quarter]
    ids = tokenizer.convert_tokens_to_ids
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": num_layers,
            "num_attention_heads": num_heads,
            "num_key_value_heads": num_heads,
            "max_position_embeddings": 1024,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "mrope_section": mrope_section,
            },
            "bos_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "depth": vision_depth,
            "hidden_size": vision_hidden_size,
            "intermediate_size": 2 * vision_hidden_size,
            "num_heads": 2,
            "out_hidden_size": hidden_size,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": 112,
            "fullatt_block_indexes": [vision_depth - 1],
        },
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config)
    tokenizer.model_max_length = config.text_config.max_position_embeddings  # prompt length check
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    image_processor = Qwen2VLImageProcessor(
        min_pixels=image_pixels, max_pixels=image_pixels, patch_size=14, merge_size=2
    )
    # A video processor is required even for image-only use: save/load expects it. Frames get
    # the image budget, so a pair of frames (one temporal patch) costs what one image does.
    video_processor = Qwen2VLVideoProcessor(
        patch_size=14,
        merge_size=2,
        size={"shortest_edge": image_pixels, "longest_edge": image_pixels},
    )
    processor = Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=video_processor,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-qwen2")
def build_tiny_qwen2(
    seed: int = 0, *, hidden_size: int = 128, num_layers: int = 2, num_heads: int = 2
) -> tuple[Qwen2ForCausalLM, object]:
    """A text-only Qwen2 causal LM sharing the project tokenizer (for text tasks and tests)."""
    tokenizer = train_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer
