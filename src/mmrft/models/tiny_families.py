"""Tiny builders for two "small ViT + connector + LM with its own placeholders" patterns:
SmolVLM (``tiny-smolvlm`` as Idefics3, ``tiny-smolvlm2``) and LLaVA (``tiny-llava``,
``tiny-llava-next``, ``tiny-llava-onevision``). Gemma 3 and InternVL are in
``tiny_families_anyres``; the shared recipe and ``TinySizes`` in ``tiny``.

What each pattern has to get right (and why):

* They need their own placeholders (``<image>``, ...) and chat templates: the builder adds them
  to the project tokenizer as special tokens and swaps the template.
* SmolVLM is built as ``idefics3`` -- the ``model_type`` of the SmolVLM(-256M/-500M)-Instruct
  checkpoints -- with image splitting off, so a picture is always ``image_seq_len`` tokens.
  SmolVLM2 (``smolvlm``) is the same architecture; its processor also handles video and imports
  ``num2words`` (transformers raises an ImportError naming it when it is missing).
* LLaVA-NeXT / OneVision tile an image over ``image_grid_pinpoints`` ("any-res"), so the token
  count depends on the image's size; the tiny pinpoints (56x56, 56x112, 112x56) keep it small.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import (
    CLIPImageProcessor,
    Idefics3ForConditionalGeneration,
    Idefics3ImageProcessor,
    Idefics3Processor,
    LlavaForConditionalGeneration,
    LlavaNextForConditionalGeneration,
    LlavaNextImageProcessor,
    LlavaNextProcessor,
    LlavaOnevisionForConditionalGeneration,
    LlavaOnevisionImageProcessor,
    LlavaOnevisionProcessor,
    LlavaOnevisionVideoProcessor,
    LlavaProcessor,
    PreTrainedModel,
    SmolVLMForConditionalGeneration,
    SmolVLMImageProcessor,
    SmolVLMProcessor,
    SmolVLMVideoProcessor,
)

from mmrft.models.tiny import (
    Built,
    TinySizes,
    chatml_with,
    lm_config,
    register_tiny,
    seeded_model,
    tokenizer_with,
    vit_config,
)

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

SMOLVLM_SPECIAL_TOKENS = [
    "<fake_token_around_image>",
    "<image>",
    "<global-img>",
    "<end_of_utterance>",
]


# -- SmolVLM / Idefics3 ---------------------------------------------------------------------


@dataclass(frozen=True)
class SmolVLMVersion:
    """What separates SmolVLM (``idefics3``) from SmolVLM2 (``smolvlm``): classes and video."""

    model_class: type[PreTrainedModel]
    processor_class: type
    image_processor_class: type
    chat_template: str
    video_processor_class: type | None = None


def build_tiny_smolvlm(seed: int, sizes: TinySizes, *, version: SmolVLMVersion) -> Built:
    """SmolVLM: SigLIP-style encoder (16-px patches) + pixel-shuffle connector + Llama.

    A 64x64 image is (64/16)^2 = 16 patches; pixel shuffle by 2 -> 4 ``<image>`` tokens between
    ``<fake_token_around_image><global-img>`` and ``<fake_token_around_image>``. SmolVLM2 resizes
    a video frame to one ``image_size`` square as its video processor does (frames are never
    split): 4 ``<image>`` tokens a frame, after a ``Frame from MM:SS:`` label.
    """
    tokenizer = tokenizer_with(
        SMOLVLM_SPECIAL_TOKENS, eos="<end_of_utterance>", chat_template=version.chat_template
    )
    config = version.model_class.config_class(
        text_config={"model_type": "llama", **lm_config(tokenizer, sizes)},
        vision_config=vit_config(sizes, patch_size=16),
        scale_factor=2,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )
    model = seeded_model(seed, version.model_class, config, tokenizer)
    side = sizes.image_size
    video = {}
    if version.video_processor_class is not None:
        frame = {"longest_edge": side}
        video["video_processor"] = version.video_processor_class(size=frame, max_image_size=frame)
    processor = version.processor_class(
        # Splitting off: every image is resized to one image_size square, one global tile.
        image_processor=version.image_processor_class(
            size={"longest_edge": side},
            max_image_size={"longest_edge": side},
            do_image_splitting=False,
        ),
        tokenizer=tokenizer,
        **video,
        image_seq_len=(side // 16) ** 2 // 4,
        chat_template=tokenizer.chat_template,
    )
    return model, processor


SMOLVLM = SmolVLMVersion(
    Idefics3ForConditionalGeneration,
    Idefics3Processor,
    Idefics3ImageProcessor,
    SMOLVLM_CHAT_TEMPLATE,
)
SMOLVLM2 = SmolVLMVersion(
    SmolVLMForConditionalGeneration,
    SmolVLMProcessor,
    SmolVLMImageProcessor,
    SMOLVLM2_CHAT_TEMPLATE,
    SmolVLMVideoProcessor,
)
register_tiny("tiny-smolvlm", build_tiny_smolvlm, TinySizes(image_size=64), version=SMOLVLM)
register_tiny("tiny-smolvlm2", build_tiny_smolvlm, TinySizes(image_size=64), version=SMOLVLM2)


# -- LLaVA ----------------------------------------------------------------------------------

# Any-res grids ([height, width]) for the tiny LLaVA-NeXT / OneVision: one 56-px tile per 56 px
# of the best fit. A square image fits 56x56 (one tile); a wide one 56x112 (two tiles).
TINY_PINPOINTS = [[56, 56], [56, 112], [112, 56]]


@dataclass(frozen=True)
class LlavaVariant:
    """What separates LLaVA-1.5, LLaVA-NeXT and LLaVA-OneVision in a tiny build."""

    model_class: type[PreTrainedModel]
    processor_class: type
    image_processor_class: type
    any_res: bool
    """Tile an image over ``TINY_PINPOINTS`` besides its base view (NeXT, OneVision)."""
    onevision: bool = False
    """SigLIP (all patches kept) + Qwen2 on ChatML with ``<image>`` / ``<video>``, instead of
    CLIP's penultimate layer (CLS dropped) + Llama on LLaVA's ``USER: ... ASSISTANT:``."""


def build_tiny_llava(seed: int, sizes: TinySizes, *, variant: LlavaVariant) -> Built:
    """LLaVA: a ViT + 2-layer MLP projector + an LM, one ``<image>`` token per kept feature.

    A 56x56 view of 14-px patches is 16 patch features (+ CLIP's CLS, dropped): LLaVA-1.5 makes
    each image 16 tokens. Any-res adds the tiles of the best-fitting pinpoint, unpadded back to
    the image's aspect ratio, with one ``image_newline`` per row: 112x112 -> 16 + 4*4 + 4 = 36.
    OneVision does so for a single image; in a prompt with several images each one is only its
    base view plus a newline (16 + 1 = 17).
    """
    side = sizes.image_size
    if variant.onevision:
        template = chatml_with("<image>\n", "<video>\n")
        tokenizer = tokenizer_with(["<image>", "<video>"], eos="<|im_end|>", chat_template=template)
        lm, vit = "qwen2", vit_config(sizes, 14, model_type="siglip_vision_model")
        features = {"vision_feature_layer": -1, "vision_feature_select_strategy": "full"}
        tokens = {"video_token_index": tokenizer.convert_tokens_to_ids("<video>")}
    else:
        tokenizer = tokenizer_with(
            ["<image>", "</s>"], eos="</s>", chat_template=LLAVA_CHAT_TEMPLATE
        )
        lm, vit = "llama", vit_config(sizes, 14, model_type="clip_vision_model")
        if not variant.any_res:  # recorded in tiny-llava's config (the tower has no projection)
            vit["projection_dim"] = sizes.vision_hidden_size
        features = {"vision_feature_layer": -2, "vision_feature_select_strategy": "default"}
        tokens = {"image_seq_length": (side // 14) ** 2}
    tiling = {"image_grid_pinpoints": TINY_PINPOINTS} if variant.any_res else {}
    config = variant.model_class.config_class(
        text_config={"model_type": lm, **lm_config(tokenizer, sizes)},
        vision_config=vit,
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        **tokens,
        **tiling,
        **features,
    )
    model = seeded_model(seed, variant.model_class, config, tokenizer)
    strategy = features["vision_feature_select_strategy"]
    if variant.onevision:
        size = {"height": side, "width": side}
        image_processor = variant.image_processor_class(size=size, **tiling)
        extra = {
            "video_processor": LlavaOnevisionVideoProcessor(size=size),
            "num_image_tokens": (side // 14) ** 2,
        }
    else:
        image_processor = variant.image_processor_class(
            size={"shortest_edge": side}, crop_size={"height": side, "width": side}, **tiling
        )
        extra = {"patch_size": 14, "num_additional_image_tokens": 1}  # CLIP's CLS token
    processor = variant.processor_class(
        image_processor=image_processor,
        tokenizer=tokenizer,
        vision_feature_select_strategy=strategy,
        chat_template=tokenizer.chat_template,
        **extra,
    )
    return model, processor


LLAVA = LlavaVariant(
    LlavaForConditionalGeneration, LlavaProcessor, CLIPImageProcessor, any_res=False
)
LLAVA_NEXT = LlavaVariant(
    LlavaNextForConditionalGeneration, LlavaNextProcessor, LlavaNextImageProcessor, any_res=True
)
LLAVA_ONEVISION = LlavaVariant(
    LlavaOnevisionForConditionalGeneration,
    LlavaOnevisionProcessor,
    LlavaOnevisionImageProcessor,
    any_res=True,
    onevision=True,
)
register_tiny("tiny-llava", build_tiny_llava, TinySizes(image_size=56), variant=LLAVA)
register_tiny("tiny-llava-next", build_tiny_llava, TinySizes(image_size=56), variant=LLAVA_NEXT)
register_tiny(
    "tiny-llava-onevision", build_tiny_llava, TinySizes(image_size=56), variant=LLAVA_ONEVISION
)
