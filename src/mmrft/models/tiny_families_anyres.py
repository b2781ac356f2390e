"""Tiny builders for the tiled families with named placeholders: Gemma 3 and InternVL (the any-res
LLaVA-NeXT / OneVision share the LLaVA builder in ``tiny_families``; the recipe is in ``tiny``).

What each builder must get right:

* Gemma 3 and InternVL processors read their placeholders from *named* tokenizer attributes
  (``tokenizer.boi_token``, ``tokenizer.context_image_token``, ...): the builder declares them
  as ``extra_special_tokens`` so they survive ``save_pretrained`` / ``from_pretrained``.
* InternVL cuts an image into up to ``max_tiles`` tiles plus a thumbnail (dynamic tiling);
  ``tiny-internvl-tiles`` allows 4, so even a square image is several tiles.
* Gemma 3's text decoder interleaves sliding-window and global layers; its processor returns
  ``token_type_ids`` that switch on bidirectional attention inside each image.
"""

from __future__ import annotations

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
)

from mmrft.models.tiny import (
    TinySizes,
    chatml_with,
    lm_config,
    register_tiny,
    seeded_model,
    tokenizer_with,
    vit_config,
)

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


def build_tiny_gemma3(
    seed: int, sizes: TinySizes
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
    tokenizer = tokenizer_with(
        ["<start_of_turn>", "<end_of_turn>"],
        eos="<end_of_turn>",
        chat_template=GEMMA3_CHAT_TEMPLATE,
        named=named,
    )
    head_dim = sizes.hidden_size // sizes.num_heads
    text = lm_config(
        tokenizer,
        sizes,
        head_dim=head_dim,
        query_pre_attn_scalar=head_dim,
        sliding_window=16,
        # Gemma 3 interleaves local (sliding-window) and global layers; tiny: alternate them
        layer_types=[
            "sliding_attention" if i % 2 == 0 else "full_attention" for i in range(sizes.num_layers)
        ],
    )
    config = Gemma3Config(
        text_config=text,
        vision_config=vit_config(sizes, 16, model_type="siglip_vision_model"),
        mm_tokens_per_image=(sizes.image_size // 16) ** 2 // 4,
        boi_token_index=tokenizer.boi_token_id,
        eoi_token_index=tokenizer.eoi_token_id,
        image_token_index=tokenizer.image_token_id,
    )
    model = seeded_model(seed, Gemma3ForConditionalGeneration, config, tokenizer)
    side = sizes.image_size
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessor(size={"height": side, "width": side}),
        tokenizer=tokenizer,
        image_seq_length=config.mm_tokens_per_image,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


def build_tiny_internvl(
    seed: int, sizes: TinySizes, *, max_tiles: int
) -> tuple[InternVLForConditionalGeneration, InternVLProcessor]:
    """InternVL 3 (transformers-native ``internvl``): InternViT + pixel shuffle + MLP + Qwen2.

    Each 56x56 tile is 4x4 patches, pixel-shuffled by 0.5 -> 4 ``<IMG_CONTEXT>`` tokens between
    ``<img>`` and ``</img>``. Dynamic tiling, up to ``max_tiles``: with 2, a square image is one
    tile and a 120x50 image two tiles plus a thumbnail (12 tokens); with 4 (``tiny-internvl-tiles``)
    a square 112x112 image is 2x2 tiles plus a thumbnail (20 tokens), so images of one batch
    occupy different numbers of ``pixel_values`` entries.
    """
    named = {
        "start_image_token": "<img>",
        "end_image_token": "</img>",
        "context_image_token": "<IMG_CONTEXT>",
        "video_token": "<video>",
    }
    tokenizer = tokenizer_with(
        [],
        eos="<|im_end|>",
        chat_template=chatml_with("<IMG_CONTEXT>\n", "<video>\n"),
        named=named,
    )
    side = sizes.image_size
    tokens_per_tile = (side // 14) ** 2 // 4
    config = InternVLConfig(
        text_config={"model_type": "qwen2", **lm_config(tokenizer, sizes)},
        vision_config=vit_config(sizes, [14, 14], image_size=[side, side]),
        image_token_id=tokenizer.context_image_token_id,
        image_seq_length=tokens_per_tile,
        downsample_ratio=0.5,
    )
    model = seeded_model(seed, InternVLForConditionalGeneration, config, tokenizer)
    size = {"height": side, "width": side}
    processor = InternVLProcessor(
        image_processor=GotOcr2ImageProcessor(
            size=size, crop_to_patches=True, min_patches=1, max_patches=max_tiles
        ),
        tokenizer=tokenizer,
        video_processor=InternVLVideoProcessor(size=size),
        image_seq_length=tokens_per_tile,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


register_tiny("tiny-gemma3", build_tiny_gemma3, TinySizes(image_size=64))
register_tiny("tiny-internvl", build_tiny_internvl, TinySizes(image_size=56), max_tiles=2)
register_tiny("tiny-internvl-tiles", build_tiny_internvl, TinySizes(image_size=56), max_tiles=4)
