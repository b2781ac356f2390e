"""Tiny builders for Qwen2-VL, Qwen3-VL, SmolVLM (Idefics3), LLaVA and Qwen3 (the any-res and
tiled families -- LLaVA-NeXT, LLaVA-OneVision, Gemma 3, InternVL -- are in ``tiny_families_anyres``).

Same recipe as ``tiny.py``: a real transformers class from a small config, the project's own
tokenizer (``train_tokenizer``) and an offline processor, so the processor call, chat template,
image placeholders, generate, ``save_pretrained`` / ``from_pretrained`` are the code paths a hub
checkpoint takes. Every builder returns ``(model, processor_or_tokenizer)`` and is registered in
``TINY_MODELS``; each one builds in about a second on a laptop CPU.

Per family, what the builder has to get right (and why):

* Qwen2-VL / Qwen3-VL reuse the Qwen special tokens the project tokenizer already has; the
  text config's ``mrope_section`` must sum to head_dim/2, and Qwen3-VL's vision patch is 16 px
  (set on the image processor too, or token counts disagree with the model).
* SmolVLM and LLaVA need their own placeholders (``<image>``, ...) and chat templates: the
  builder adds them to the project tokenizer as special tokens and swaps the template.
* SmolVLM is built as ``idefics3`` -- the ``model_type`` of the SmolVLM(-256M/-500M)-Instruct
  checkpoints -- with image splitting off, so a picture is always ``image_seq_len`` tokens.
"""

from __future__ import annotations

import torch
from transformers import (
    CLIPImageProcessor,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3ImageProcessor,
    Idefics3Processor,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    Qwen3Config,
    Qwen3ForCausalLM,
    Qwen3VLConfig,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
    SmolVLMConfig,
    SmolVLMForConditionalGeneration,
    SmolVLMImageProcessor,
    SmolVLMProcessor,
    SmolVLMVideoProcessor,
)

from mmrft.models.tiny import TINY_MODELS
from mmrft.models.tokenizer import train_tokenizer

# SmolVLM's chat format ("User:<image>How many?<end_of_utterance>\nAssistant:"), as in the
# SmolVLM-Instruct chat template, extended to accept plain-string (system) content.
SMOLVLM_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'] is string %}: {{ message['content'] }}"
    "{% else %}{% if message['content'][0]['type'] == 'image' %}:{% else %}: {% endif %}"
    "{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}"
    "{% elif part['type'] == 'image' %}<image>{% endif %}"
    "{% endfor %}{% endif %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)

# SmolVLM2's template adds a video part, which its processor expands into timestamped frames.
SMOLVLM2_CHAT_TEMPLATE = SMOLVLM_CHAT_TEMPLATE.replace(
    "{% elif part['type'] == 'image' %}<image>{% endif %}",
    "{% elif part['type'] == 'image' %}<image>{% elif part['type'] == 'video' %}<video>{% endif %}",
)

# LLaVA-1.5's format ("USER: <image>\nHow many? ASSISTANT:"), images before text as in llava-hf.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['content'] is string %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }} "
    "{% else %}{{ message['role'].upper() }}: {{ message['content'] }} {% endif %}"
    "{% else %}{{ message['role'].upper() }}: "
    "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>\n{% endif %}"
    "{% endfor %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }} {% endif %}{% endfor %}{% endif %}"
    "{% if message['role'] == 'assistant' %}</s>{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


def _tokenizer_with(
    extra_special: list[str],
    *,
    eos: str,
    chat_template: str,
    named: dict[str, str] | None = None,
) -> PreTrainedTokenizerFast:
    """The project tokenizer plus a family's own special tokens, EOS and chat template.

    ``named`` tokens also become tokenizer attributes (``tok.boi_token``, ``tok.boi_token_id``),
    which the Gemma 3 and InternVL processors read.
    """
    tok = train_tokenizer()
    if named:
        tok = PreTrainedTokenizerFast(
            tokenizer_object=tok.backend_tokenizer,
            eos_token=tok.eos_token,
            pad_token=tok.pad_token,
            extra_special_tokens=named,
            padding_side="left",
        )
    tok.add_tokens([*extra_special, *(named or {}).values()], special_tokens=True)
    tok.eos_token = eos
    tok.chat_template = chat_template
    return tok


def _mrope_section(head_dim: int) -> list[int]:
    """Split head_dim/2 rotary frequencies over (temporal, height, width); must sum exactly."""
    quarter = head_dim // 8
    return [head_dim // 2 - 4 * quarter, 2 * quarter, 2 * quarter]


def _text_config(tokenizer, hidden_size: int, num_layers: int, num_heads: int, **extra) -> dict:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": hidden_size,
        "intermediate_size": 2 * hidden_size,
        "num_hidden_layers": num_layers,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_heads,
        "max_position_embeddings": 1024,
        "bos_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **extra,
    }


def _finish(model: PreTrainedModel, tokenizer) -> PreTrainedModel:
    # the context length travels with the tokenizer, where ModelFamily.encode checks prompts
    tokenizer.model_max_length = model.config.get_text_config().max_position_embeddings
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.pad_token_id
    return model


def _pixel_budget(pixels: int) -> dict[str, int]:
    """A Qwen video processor's ``size``: min = max area, so the frame size is fixed."""
    return {"shortest_edge": pixels, "longest_edge": pixels}


def _qwen_vision_ids(tokenizer) -> dict[str, int]:
    ids = tokenizer.convert_tokens_to_ids
    return {
        "image_token_id": ids("<|image_pad|>"),
        "video_token_id": ids("<|video_pad|>"),
        "vision_start_token_id": ids("<|vision_start|>"),
        "vision_end_token_id": ids("<|vision_end|>"),
    }


@TINY_MODELS.register("tiny-qwen2-vl")
def build_tiny_qwen2_vl(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_embed_dim: int = 64,
    vision_depth: int = 2,
    image_pixels: int = 112 * 112,
) -> tuple[Qwen2VLForConditionalGeneration, Qwen2VLProcessor]:
    """Qwen2-VL: 14-px patches, 2x2 merge; a 112x112 image -> 8x8 patches -> 16 tokens."""
    tokenizer = train_tokenizer()
    rope = {
        "rope_type": "default",
        "rope_theta": 10000.0,
        "mrope_section": _mrope_section(hidden_size // num_heads),
    }
    config = Qwen2VLConfig(
        text_config=_text_config(
            tokenizer, hidden_size, num_layers, num_heads, rope_parameters=rope
        ),
        vision_config={
            "depth": vision_depth,
            "embed_dim": vision_embed_dim,
            "hidden_size": hidden_size,  # the merger projects into the LM's width
            "mlp_ratio": 2,
            "num_heads": 2,
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
        },
        **_qwen_vision_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = _finish(Qwen2VLForConditionalGeneration(config), tokenizer)
    processor = Qwen2VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            min_pixels=image_pixels, max_pixels=image_pixels, patch_size=14, merge_size=2
        ),
        tokenizer=tokenizer,
        # A video processor is required even for image-only use: save/load expects it. Frames
        # get the image budget, so a frame pair costs what one image does.
        video_processor=Qwen2VLVideoProcessor(
            patch_size=14, merge_size=2, size=_pixel_budget(image_pixels)
        ),
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-qwen3-vl")
def build_tiny_qwen3_vl(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_depth: int = 2,
    image_pixels: int = 128 * 128,
) -> tuple[Qwen3VLForConditionalGeneration, Qwen3VLProcessor]:
    """Qwen3-VL: 16-px patches, 2x2 merge; a 128x128 image -> 8x8 patches -> 16 tokens.

    Qwen3-VL interleaves its mRoPE sections (THWTHW...) and feeds "deepstack" features from
    early vision layers into the first LM layers; index 0 exercises that path.
    """
    tokenizer = train_tokenizer()
    head_dim = hidden_size // num_heads
    # interleaved mRoPE: height/width take every third frequency, so each section <= head_dim/6
    rope = {
        "rope_type": "default",
        "rope_theta": 10000.0,
        "mrope_section": [head_dim // 2 - 2 * (head_dim // 6), head_dim // 6, head_dim // 6],
        "mrope_interleaved": True,
    }
    config = Qwen3VLConfig(
        text_config=_text_config(
            tokenizer, hidden_size, num_layers, num_heads, head_dim=head_dim, rope_parameters=rope
        ),
        vision_config={
            "depth": vision_depth,
            "hidden_size": vision_hidden_size,
            "intermediate_size": 2 * vision_hidden_size,
            "num_heads": 2,
            "out_hidden_size": hidden_size,
            "patch_size": 16,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "num_position_embeddings": 64,  # an 8x8 learned grid, interpolated per image
            "deepstack_visual_indexes": [0],
        },
        **_qwen_vision_ids(tokenizer),
    )
    torch.manual_seed(seed)
    model = _finish(Qwen3VLForConditionalGeneration(config), tokenizer)
    processor = Qwen3VLProcessor(
        image_processor=Qwen2VLImageProcessor(
            min_pixels=image_pixels, max_pixels=image_pixels, patch_size=16, merge_size=2
        ),
        tokenizer=tokenizer,
        video_processor=Qwen3VLVideoProcessor(
            patch_size=16, merge_size=2, size=_pixel_budget(image_pixels)
        ),
        chat_template=tokenizer.chat_template,
    )
    return model, processor


SMOLVLM_SPECIAL_TOKENS = [
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    "<end_of_utterance>",
]


def _smolvlm_parts(
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    vision_hidden_size: int,
    vision_layers: int,
    image_size: int,
    chat_template: str = SMOLVLM_CHAT_TEMPLATE,
) -> tuple[PreTrainedTokenizerFast, dict, dict]:
    """Tokenizer, config kwargs and image-processor kwargs shared by SmolVLM and SmolVLM2."""
    tokenizer = _tokenizer_with(
        SMOLVLM_SPECIAL_TOKENS, eos="<end_of_utterance>", chat_template=chat_template
    )
    patch_size, scale_factor = 16, 2
    config = {
        "text_config": {
            "model_type": "llama",
            **_text_config(tokenizer, hidden_size, num_layers, num_heads),
        },
        "vision_config": {
            "hidden_size": vision_hidden_size,
            "intermediate_size": 2 * vision_hidden_size,
            "num_hidden_layers": vision_layers,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": patch_size,
        },
        "scale_factor": scale_factor,
        "image_token_id": tokenizer.convert_tokens_to_ids("<image>"),
    }
    # Splitting off: every image is resized to one image_size square, one global tile.
    image_kwargs = {
        "size": {"longest_edge": image_size},
        "max_image_size": {"longest_edge": image_size},
        "do_image_splitting": False,
    }
    return tokenizer, config, image_kwargs


@TINY_MODELS.register("tiny-smolvlm")
def build_tiny_smolvlm(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_layers: int = 2,
    image_size: int = 64,
) -> tuple[Idefics3ForConditionalGeneration, Idefics3Processor]:
    """SmolVLM (``idefics3``): SigLIP-style encoder + pixel-shuffle connector + Llama.

    A 64x64 image is (64/16)^2 = 16 patches; pixel shuffle by 2 -> 4 ``<image>`` tokens between
    ``<fake_token_around_image><global-img>`` and ``<fake_token_around_image>``.
    """
    tokenizer, config, image_kwargs = _smolvlm_parts(
        hidden_size, num_layers, num_heads, vision_hidden_size, vision_layers, image_size
    )
    torch.manual_seed(seed)
    model = _finish(Idefics3ForConditionalGeneration(Idefics3Config(**config)), tokenizer)
    processor = Idefics3Processor(
        image_processor=Idefics3ImageProcessor(**image_kwargs),
        tokenizer=tokenizer,
        image_seq_len=(image_size // 16) ** 2 // 4,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-smolvlm2")
def build_tiny_smolvlm2(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_layers: int = 2,
    image_size: int = 64,
) -> tuple[SmolVLMForConditionalGeneration, SmolVLMProcessor]:
    """SmolVLM2 (``smolvlm``): the same architecture; its processor also handles video and
    imports ``num2words`` (transformers raises an ImportError naming it when it is missing).

    A video frame is resized to one ``image_size`` square, as SmolVLM2's video processor does
    (frames are never split): 4 ``<image>`` tokens a frame, after a ``Frame from MM:SS:`` label.
    """
    tokenizer, config, image_kwargs = _smolvlm_parts(
        hidden_size,
        num_layers,
        num_heads,
        vision_hidden_size,
        vision_layers,
        image_size,
        chat_template=SMOLVLM2_CHAT_TEMPLATE,
    )
    torch.manual_seed(seed)
    model = _finish(SmolVLMForConditionalGeneration(SmolVLMConfig(**config)), tokenizer)
    frame = {"longest_edge": image_size}
    processor = SmolVLMProcessor(
        image_processor=SmolVLMImageProcessor(**image_kwargs),
        tokenizer=tokenizer,
        video_processor=SmolVLMVideoProcessor(size=frame, max_image_size=frame),
        image_seq_len=(image_size // 16) ** 2 // 4,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-llava")
def build_tiny_llava(
    seed: int = 0,
    *,
    hidden_size: int = 128,
    num_layers: int = 2,
    num_heads: int = 4,
    vision_hidden_size: int = 64,
    vision_layers: int = 2,
    image_size: int = 56,
) -> tuple[LlavaForConditionalGeneration, LlavaProcessor]:
    """LLaVA-1.5 style: CLIP encoder (penultimate layer, CLS dropped) + 2-layer MLP + Llama.

    A 56x56 crop of 14-px patches -> 16 patch features + CLS; the "default" feature strategy
    drops CLS, so each image is 16 ``<image>`` tokens.
    """
    tokenizer = _tokenizer_with(["<image>", "</s>"], eos="</s>", chat_template=LLAVA_CHAT_TEMPLATE)
    patch_size = 14
    config = LlavaConfig(
        text_config={
            "model_type": "llama",
            **_text_config(tokenizer, hidden_size, num_layers, num_heads),
        },
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": vision_hidden_size,
            "intermediate_size": 2 * vision_hidden_size,
            "num_hidden_layers": vision_layers,
            "num_attention_heads": 2,
            "image_size": image_size,
            "patch_size": patch_size,
            "projection_dim": vision_hidden_size,
        },
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        image_seq_length=(image_size // patch_size) ** 2,
        vision_feature_layer=-2,
        vision_feature_select_strategy="default",
    )
    torch.manual_seed(seed)
    model = _finish(LlavaForConditionalGeneration(config), tokenizer)
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=patch_size,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token
        chat_template=tokenizer.chat_template,
    )
    return model, processor


@TINY_MODELS.register("tiny-qwen3")
def build_tiny_qwen3(
    seed: int = 0, *, hidden_size: int = 128, num_layers: int = 2, num_heads: int = 2
) -> tuple[Qwen3ForCausalLM, PreTrainedTokenizerFast]:
    """A text-only Qwen3 causal LM (q/k RMS-norm, explicit head_dim) on the project tokenizer."""
    tokenizer = train_tokenizer()
    config = Qwen3Config(
        **_text_config(tokenizer, hidden_size, num_layers, num_heads),
        head_dim=hidden_size // num_heads,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = _finish(Qwen3ForCausalLM(config), tokenizer)
    return model, tokenizer
