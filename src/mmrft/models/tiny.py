"""Tiny, randomly initialised models built from configs: the offline stand-ins for real checkpoints.

They are real transformers classes (``Qwen2_5_VLForConditionalGeneration``, ``Qwen2ForCausalLM``)
with a project-trained tokenizer and an offline processor, so every code path — processor call,
mRoPE, generate, log-probs, ``save_pretrained`` / ``from_pretrained`` — is the one a hub
checkpoint takes. ``TINY_MODELS`` maps a builtin name (usable as ``model.name_or_path``) to a
builder ``(seed=0, **size_overrides) -> (model, processor_or_tokenizer)``; users register their own.

One parameterised builder per architecture pattern, a small spec per variant:

* here: text LMs (``tiny-qwen2``, ``tiny-qwen3``) and Qwen-VL (``tiny-qwen2-vl``,
  ``tiny-qwen2.5-vl``, ``tiny-qwen3-vl``), all on the project tokenizer as trained;
* ``tiny_families``: SmolVLM / Idefics3 and the LLaVA family (1.5, NeXT, OneVision);
* ``tiny_families_anyres``: the tiled Gemma 3 and InternVL; ``tiny_audio``: Qwen2-Audio.

The vision builders take the same size overrides (``TinySizes``: ``load_policy``'s builtin models
use the defaults; a test may ask for ``num_layers=3``) and share the recipe below:
``tokenizer_with`` -> ``lm_config`` / ``vit_config`` -> ``seeded_model`` -> the family's processor.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields, replace

import torch
from transformers import (
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2ForCausalLM,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    Qwen3ForCausalLM,
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
)

from mmrft.models.tokenizer import CHAT_TEMPLATE, train_tokenizer
from mmrft.registry import Registry

Built = tuple[PreTrainedModel, object]  # (model, processor or tokenizer)

TINY_MODELS: Registry[Callable[..., Built]] = Registry("tiny model")


@dataclass(frozen=True)
class TinySizes:
    """A tiny model's size knobs: ``register_tiny`` builders take them as keyword overrides."""

    hidden_size: int = 128
    """Width of the language model; its heads are ``hidden_size // num_heads`` wide."""
    num_layers: int = 2
    """Decoder layers of the language model."""
    num_heads: int = 4
    """Attention heads (and key/value heads) of the language model."""
    vision_hidden_size: int = 64
    """Width of the vision encoder (its MLP is twice as wide; it always has 2 heads)."""
    vision_layers: int = 2
    """Layers of the vision encoder."""
    image_size: int = 64
    """Side of the square the vision encoder sees: the fixed image size, the size of one tile
    (tiled families) or the side of the fixed pixel budget (Qwen-VL)."""


KNOBS = tuple(f.name for f in fields(TinySizes))
LM_KNOBS = ("hidden_size", "num_layers", "num_heads")  # a text-only model's knobs


def register_tiny(
    name: str,
    builder: Callable[..., Built],
    sizes: TinySizes,
    *,
    knobs: tuple[str, ...] = KNOBS,
    **variant,
) -> Callable[..., Built]:
    """Register ``builder(seed, sizes, **variant)`` as ``name(seed=0, **size_overrides)``.

    ``sizes`` holds this model's defaults; its signature lists them (``help`` shows them), and an
    override outside ``knobs`` is a TypeError naming the knobs it takes.
    """

    def build(seed: int = 0, **overrides: int) -> Built:
        if unknown := sorted(set(overrides) - set(knobs)):
            raise TypeError(f"{name} takes no {unknown}; its size knobs: {list(knobs)}")
        return builder(seed, replace(sizes, **overrides), **variant)

    build.__doc__ = builder.__doc__
    build.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("seed", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=0),
            *(
                inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=getattr(sizes, k))
                for k in knobs
            ),
        ],
        return_annotation=builder.__annotations__.get("return", Built),
    )
    return TINY_MODELS.register(name)(build)


def tokenizer_with(
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


def chatml_with(image: str, video: str) -> str:
    """The project's ChatML template with another family's image/video placeholders (InternVL
    and LLaVA-OneVision checkpoints use ChatML with ``<IMG_CONTEXT>`` / ``<image>``)."""
    return CHAT_TEMPLATE.replace("<|vision_start|><|image_pad|><|vision_end|>", image).replace(
        "<|vision_start|><|video_pad|><|vision_end|>", video
    )


def lm_config(tokenizer, sizes: TinySizes, **extra) -> dict:
    """Config keys of the language model (any decoder family): sizes, vocab, special ids."""
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": sizes.hidden_size,
        "intermediate_size": 2 * sizes.hidden_size,
        "num_hidden_layers": sizes.num_layers,
        "num_attention_heads": sizes.num_heads,
        "num_key_value_heads": sizes.num_heads,
        "max_position_embeddings": 1024,
        "bos_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **extra,
    }


def vit_config(sizes: TinySizes, patch_size: int, **extra) -> dict:
    """Config keys of a small 2-head ViT (CLIP, SigLIP, Idefics3's, InternViT) on ``image_size``."""
    return {
        "hidden_size": sizes.vision_hidden_size,
        "intermediate_size": 2 * sizes.vision_hidden_size,
        "num_hidden_layers": sizes.vision_layers,
        "num_attention_heads": 2,
        "image_size": sizes.image_size,
        "patch_size": patch_size,
        **extra,
    }


def seeded_model(
    seed: int,
    model_class: type[PreTrainedModel],
    config: PretrainedConfig,
    tokenizer,
    *,
    set_context_length: bool = True,
) -> PreTrainedModel:
    """``model_class(config)`` initialised under ``seed``, generation ids from ``tokenizer``."""
    torch.manual_seed(seed)
    model = model_class(config)
    if set_context_length:
        # the context length travels with the tokenizer, where ModelFamily.encode checks prompts
        tokenizer.model_max_length = config.get_text_config().max_position_embeddings
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.pad_token_id
    return model


# -- text LMs -------------------------------------------------------------------------------


def build_tiny_text_lm(
    seed: int,
    sizes: TinySizes,
    *,
    model_class: type[PreTrainedModel],
    head_dim: bool = False,
    set_context_length: bool = True,
) -> tuple[PreTrainedModel, PreTrainedTokenizerFast]:
    """A text-only causal LM on the project tokenizer (for text tasks and tests), input and
    output embeddings tied. ``head_dim``: the config needs it explicitly (Qwen3's defaults to 128,
    whatever the width)."""
    tokenizer = train_tokenizer()
    extra = {"head_dim": sizes.hidden_size // sizes.num_heads} if head_dim else {}
    config = model_class.config_class(
        **lm_config(tokenizer, sizes), **extra, tie_word_embeddings=True
    )
    model = seeded_model(
        seed, model_class, config, tokenizer, set_context_length=set_context_length
    )
    return model, tokenizer


TEXT = {"sizes": TinySizes(num_heads=2), "knobs": LM_KNOBS}
# tiny-qwen2 never set a context length on its tokenizer; kept so, its saved files (and the runs
# built on them) stay byte-identical
register_tiny(
    "tiny-qwen2", build_tiny_text_lm, **TEXT, model_class=Qwen2ForCausalLM, set_context_length=False
)
register_tiny("tiny-qwen3", build_tiny_text_lm, **TEXT, model_class=Qwen3ForCausalLM, head_dim=True)


# -- Qwen-VL --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QwenVLVersion:
    """What separates Qwen2-VL, Qwen2.5-VL and Qwen3-VL in a tiny build."""

    model_class: type[PreTrainedModel]
    processor_class: type
    video_processor_class: type
    patch_size: int
    vision: Callable[[TinySizes], dict]
    """The version's own vision-config keys (width names, window / deepstack layers)."""
    interleaved_mrope: bool = False
    """Qwen3-VL interleaves its mRoPE sections (THWTHW...) and needs an explicit head_dim."""


def mrope(head_dim: int, *, interleaved: bool = False) -> dict:
    """Rotary parameters whose ``mrope_section`` (temporal, height, width) sums to head_dim/2."""
    if interleaved:  # height/width take every third frequency, so each section <= head_dim/6
        sixth = head_dim // 6
        return {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [head_dim // 2 - 2 * sixth, sixth, sixth],
            "mrope_interleaved": True,
        }
    quarter = head_dim // 8
    section = [head_dim // 2 - 4 * quarter, 2 * quarter, 2 * quarter]
    return {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": section}


def build_tiny_qwen_vl(seed: int, sizes: TinySizes, *, version: QwenVLVersion) -> Built:
    """A Qwen-VL on the project tokenizer (which has the Qwen vision tokens already).

    ``image_size`` fixes min_pixels = max_pixels = image_size**2, so every image gets the same
    token count: 112x112 in 14-px patches (128x128 in Qwen3-VL's 16-px) is an 8x8 grid -> 2x2
    merge -> 16 tokens.
    """
    tokenizer = train_tokenizer()
    head_dim = sizes.hidden_size // sizes.num_heads
    text = lm_config(
        tokenizer,
        sizes,
        **({"head_dim": head_dim} if version.interleaved_mrope else {}),
        rope_parameters=mrope(head_dim, interleaved=version.interleaved_mrope),
    )
    vision = {
        "depth": sizes.vision_layers,
        "num_heads": 2,
        "patch_size": version.patch_size,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
        **version.vision(sizes),
    }
    ids = tokenizer.convert_tokens_to_ids
    config = version.model_class.config_class(
        text_config=text,
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    model = seeded_model(seed, version.model_class, config, tokenizer)
    pixels, patch = sizes.image_size**2, version.patch_size
    processor = version.processor_class(
        image_processor=Qwen2VLImageProcessor(
            min_pixels=pixels, max_pixels=pixels, patch_size=patch, merge_size=2
        ),
        tokenizer=tokenizer,
        # A video processor is required even for image-only use: save/load expects it. Frames get
        # the image budget, so a pair of frames (one temporal patch) costs what one image does.
        video_processor=version.video_processor_class(
            patch_size=patch, merge_size=2, size={"shortest_edge": pixels, "longest_edge": pixels}
        ),
        chat_template=tokenizer.chat_template,
    )
    return model, processor


QWEN2_VL = QwenVLVersion(
    Qwen2VLForConditionalGeneration,
    Qwen2VLProcessor,
    Qwen2VLVideoProcessor,
    patch_size=14,
    # Qwen2-VL names the encoder width embed_dim; hidden_size is the merger's output (the LM's)
    vision=lambda s: {
        "embed_dim": s.vision_hidden_size,
        "hidden_size": s.hidden_size,
        "mlp_ratio": 2,
    },
)
QWEN2_5_VL = QwenVLVersion(
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLVideoProcessor,
    patch_size=14,
    vision=lambda s: {
        "hidden_size": s.vision_hidden_size,
        "intermediate_size": 2 * s.vision_hidden_size,
        "out_hidden_size": s.hidden_size,
        "window_size": 112,  # windowed attention everywhere but the last layer
        "fullatt_block_indexes": [s.vision_layers - 1],
    },
)
QWEN3_VL = QwenVLVersion(
    Qwen3VLForConditionalGeneration,
    Qwen3VLProcessor,
    Qwen3VLVideoProcessor,
    patch_size=16,  # set on the image processor too, or token counts disagree with the model
    vision=lambda s: {
        "hidden_size": s.vision_hidden_size,
        "intermediate_size": 2 * s.vision_hidden_size,
        "out_hidden_size": s.hidden_size,
        "num_position_embeddings": 64,  # an 8x8 learned grid, interpolated per image
        "deepstack_visual_indexes": [0],  # early vision features fed into the first LM layers
    },
    interleaved_mrope=True,
)
register_tiny("tiny-qwen2-vl", build_tiny_qwen_vl, TinySizes(image_size=112), version=QWEN2_VL)
# the demo's model: ~0.7M parameters
register_tiny("tiny-qwen2.5-vl", build_tiny_qwen_vl, TinySizes(image_size=112), version=QWEN2_5_VL)
register_tiny("tiny-qwen3-vl", build_tiny_qwen_vl, TinySizes(image_size=128), version=QWEN3_VL)
