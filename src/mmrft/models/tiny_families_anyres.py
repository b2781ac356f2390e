"""Tiny builders for the any-res and tiled families: LLaVA-NeXT, LLaVA-OneVision, Gemma 3, InternVL.

Same recipe as ``tiny_families``: a real transformers class from a small config, the project
tokenizer plus the family's placeholders, an offline processor. What each builder must get right:

* Gemma 3 and InternVL processors read their placeholders from *named* tokenizer attributes
  (``tokenizer.boi_token``, ``tokenizer.context_image_token``, ...): the builder declares them
  as ``extra_special_tokens`` so they survive ``save_pretrained`` / ``from_pretrained``.
* LLaVA-NeXT / OneVision tile an image over ``image_grid_pinpoints`` ("any-res"), so the token
  count depends on the image's size; the tiny pinpoints (56x56, 56x112, 112x56) keep it small.
* InternVL cuts an image into up to ``max_patches`` tiles plus a thumbnail (dynamic tiling);
  ``tiny-internvl-tiles`` allows 4, so even a square image is several tiles.
* Gemma 3's text decoder interleaves sliding-window and global layers; its processor returns
  ``token_type_ids`` that switch on bidirectional attention inside each image.
"""

from __future__ import annotations

import torch
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3ImageProcessor,
    Gemma3Processor,
    GotOcr2ImageProcessor,
    InternVLConfig,
    InternVLForConditionalGeneration,
    InternVLProcessor,
    InternVLVideoProcessor,
    LlavaNextConfig,
    LlavaNextForConditionalGeneration,
    LlavaNextImageProcessor,
    LlavaNextProcessor,
    LlavaOnevisionConfig,
    LlavaOnevisionForConditionalGeneration,
    LlavaOnevisionImageProcessor,
    LlavaOnevisionProcessor,
    LlavaOnevisionVideoProcessor,
)

from mmrft.models.tiny import TINY_MODELS
from mmrft.models.tiny_families import (
    LLAVA_CHAT_TEMPLATE,
    _finish,
    _text_config,
    _tokenizer_with,
)
from mmrft.models.tokenizer import CHAT_TEMPLATE

# Gemma 3's turn format ("<start_of_turn>user\n...<end_of_turn>\n<start_of_turn>model\n"); the
# processor expands each <start_of_image> into "\n\n<start_of_image><image_soft_token>*N<end_of_image>\n\n".
GEMMA3_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else message['role'] %}"
    "<start_of_turn>{{ role }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<start_of_image>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_turn>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


def _qwen_style_template(image: str, video: str) -> str:
    """The project's ChatML template with another family's image/video placeholders (InternVL
    and LLaVA-OneVision checkpoints use ChatML with ``<IMG_CONTEXT>`` / ``<image>``)."""
    return CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", image).replace(
        "<|vision_start|><|video_pad|><|vision_end|>", video
    )


def _llama_text(tokenizer, hidden_size: int, num_layers: int, num_heads: int) -> dict:
    return {"model_type": "llama", **_text_config(tokenizer, hidden_size, num_layers, num_heads)}


def _small_vision(model_type: str, hidden_size: int, num_layers: int, image_size: int) -> dict:
    """A 2-head ViT config (CLIP or SigLIP) with 14-px patches unless the family needs others."""
    return {
        "model_type": model_type,
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": 2,
        "image_size": image_size,
        "patch_size": 14,
    }


# Any-res grids ([height, width]) for the tiny LLaVA-NeXT / OneVision: one 56-px tile per 56 px
# of the best fit. A square image fits 56x56 (one tile); a wide one 56x112 (two tiles).
TINY_PINPOINTS = [[56, 56], [56, 112], [112, 56]]


@TINY_MODELS.register("tiny-llava-next")
def build_tiny_llava_next(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_layers: int = 2,
    tile: int = 56,
) -> tuple[LlavaNextForConditionalGeneration, LlavaNextProcessor]:
    """LLaVA-NeXT (1.6): LLaVA-1.5's CLIP + MLP + Llama, plus any-res tiling.

    An image is a 56x56 base view (16 tokens, CLS dropped) plus the tiles of its best-fitting
    pinpoint, unpadded back to the image's aspect ratio, with one ``image_newline`` per row:
    a 112x112 image -> 16 + 4*4 + 4 = 36 ``<image>`` tokens (one 56x56 tile).
    """
    tokenizer = _tokenizer_with(["<image>", "</s>"], eos="</s>", chat_template=LLAVA_CHAT_TEMPLATE)
    config = LlavaNextConfig(
        text_config=_llama_text(tokenizer, hidden_size, num_layers, num_heads),
        vision_config=_small_vision("clip_vision_model", vision_hidden_size, vision_layers, tile),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_grid_pinpoints=TINY_PINPOINTS,
        image_seq_length=(tile // 14) ** 2,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = _finish(LlavaNextForConditionalGeneration(config), tokenizer)
    image_processor = LlavaNextImageProcessor(
        size={"shortest_edge": tile},
        crop_size={"height": tile, "width": tile},
        image_grid_pinpoints=TINY_PINPOINTS,
    )
    processor = LlavaNextProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-llava-onevision")
def build_tiny_llava_onevision(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_layers: int = 2,
    tile: int = 56,
) -> tuple[LlavaOnevisionForConditionalGeneration, LlavaOnevisionProcessor]:
    """LLaVA-OneVision: SigLIP (all patches kept) + MLP + Qwen2, ChatML with ``<image>``.

    A single image is any-res like LLaVA-NeXT (112x112 -> 16 + 4*4 + 4 = 36 tokens); in a
    prompt with several images each one is only its base view plus a newline (16 + 1 = 17).
    """
    tokenizer = _tokenizer_with(
        ["<image>", "<video>"],
        eos="<|im_end|>",
        chat_template=_qwen_style_template("<image>\n", "<video>\n"),
    )
    config = LlavaOnevisionConfig(
        text_config={
            "model_type": "qwen2",
            **_text_config(tokenizer, hidden_size, num_layers, num_heads),
        },
        vision_config=_small_vision("siglip_vision_model", vision_hidden_size, vision_layers, tile),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        video_token_index=tokenizer.convert_tokens_to_ids("<video>"),
        image_grid_pinpoints=TINY_PINPOINTS,
        vision_feature_layer=-1,
        vision_feature_select_strategy="full",
    )
    torch.manual_seed(seed)
    model = _finish(LlavaOnevisionForConditionalGeneration(config), tokenizer)
    size = {"height": tile, "width": tile}
    processor = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(
            size=size, image_grid_pinpoints=TINY_PINPOINTS
        ),
        tokenizer=tokenizer,
        video_processor=LlavaOnevisionVideoProcessor(size=size),
        num_image_tokens=(tile // 14) ** 2,
        vision_feature_select_strategy="full",
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-gemma3")
def build_tiny_gemma3(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_layers: int = 2,
    image_size: int = 64,
) -> tuple[Gemma3ForConditionalGeneration, Gemma3Processor]:
    """Gemma 3: SigLIP (16-px patches) + average-pool projector + Gemma 3 text decoder.

    A 64x64 image is 4x4 patches, pooled 2x2 -> 4 ``<image_soft_token>``s. Layer 0 uses
    sliding-window attention (window 16) and layer 1 global attention, as Gemma 3 interleaves.
    Image tokens attend to each other bidirectionally: the processor's ``token_type_ids`` mark
    them and must reach the model in every forward pass.
    """
    named = {
        "boi_token": "<start_of_image>",
        "eoi_token": "<end_of_image>",
        "image_token": "<image_soft_token>",
    }
    tokenizer = _tokenizer_with(
        ["<start_of_turn>", "<end_of_turn>"],
        eos="<end_of_turn>",
        chat_template=GEMMA3_CHAT_TEMPLATE,
        named=named,
    )
    head_dim = hidden_size // num_heads
    text = _text_config(
        tokenizer,
        hidden_size,
        num_layers,
        num_heads,
        head_dim=head_dim,
        query_pre_attn_scalar=head_dim,
        sliding_window=16,
        # Gemma 3 interleaves local (sliding-window) and global layers; tiny: alternate them
        layer_types=[
            "sliding_attention" if i % 2 == 0 else "full_attention" for i in range(num_layers)
        ],
    )
    vision = {**_small_vision("siglip_vision_model", vision_hidden_size, vision_layers, image_size)}
    vision["patch_size"] = 16
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=(image_size // 16) ** 2 // 4,
        boi_token_index=tokenizer.boi_token_id,
        eoi_token_index=tokenizer.eoi_token_id,
        image_token_index=tokenizer.image_token_id,
    )
    torch.manual_seed(seed)
    model = _finish(Gemma3ForConditionalGeneration(config), tokenizer)
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": image_size, "width": image_size}),
        tokenizer=tokenizer,
        image_seq_length=config.mm_tokens_per_image,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-internvl")
def build_tiny_internvl(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_layers: int = 2,
    tile: int = 56,
    max_tiles: int = 2,
) -> tuple[InternVLForConditionalGeneration, InternVLProcessor]:
    """InternVL 3 (transformers-native ``internvl``): InternViT + pixel shuffle + MLP + Qwen2.

    Each 56x56 tile is 4x4 patches, pixel-shuffled by 0.5 -> 4 ``<IMG_CONTEXT>`` tokens between
    ``<img>`` and ``</img>``. Dynamic tiling: a square image is one tile; a 120x50 image is two
    tiles plus a thumbnail (12 tokens).
    """
    named = {
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    }
    tokenizer = _tokenizer_with(
        [],
        eos="<|im_end|>",
        chat_template=_qwen_style_template("<IMG_CONTEXT>\n", "<video>\n"),
        named=named,
    )
    vision = {
        "hidden_size": vision_hidden_size,
        "intermediate_size": 2 * vision_hidden_size,
        "num_hidden_layers": vision_layers,
        "num_attention_heads": 2,
        "image_size": [tile, tile],
        "patch_size": [14, 14],
    }
    tokens_per_tile = (tile // 14) ** 2 // 4
    config = InternVLConfig(
        text_config={
            "model_type": "qwen2",
            **_text_config(tokenizer, hidden_size, num_layers, num_heads),
        },
        vision_config=vision,
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=tokens_per_tile,
        downsample_ratio=0.5,
    )
    torch.manual_seed(seed)
    model = _finish(InternVLForConditionalGeneration(config), tokenizer)
    size = {"height": tile, "width": tile}
    image_processor = GotOcr2ImageProcessor(
        size=size, crop_to_patches=True, min_patches=1, max_patches=max_tiles
    )
    processor = InternVLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(size=size),
        image_seq_length=tokens_per_tile,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-internvl-tiles")
def build_tiny_internvl_tiles(
    seed: int = 0, **overrides
) -> tuple[InternVLForConditionalGeneration, InternVLProcessor]:
    """``tiny-internvl`` with up to 4 tiles, so a square 112x112 image is 2x2 tiles plus a
    thumbnail (5 tiles, 20 tokens) while a 120x50 one is 2 + 1: images of one batch occupy
    different numbers of ``pixel_values`` entries (the default keeps a square image one tile)."""
    return build_tiny_internvl(seed, **{"max_tiles": 4, **overrides})
