"""Model-family adapters: what differs between VLM families, behind one small interface.

An adapter turns samples into chat messages and model inputs, and names the special token ids a
policy must never sample (vision placeholders: sampling ``<|image_pad|>`` at temperature 1 makes
the next forward pass fail with "Image features and image tokens do not match"). Adapters are
looked up by the checkpoint's ``config.model_type``; users register their own family.

Besides the processor call, an adapter records the facts about a family that other parts of
mmrft must not guess: the box coordinate convention its checkpoints were trained to write
(``box_format``, consumed by the grounding rewards), where its language model, vision encoder
and projector live (``language_model`` / ``vision_tower`` / ``projector``, used by the LoRA and
freezing helpers in ``mmrft.models.lora``) and which pixel budget knob its image processor has.

    family (model_type)          images= argument        placeholders              box_format
    Qwen2-VL (qwen2_vl)          flat list over batch    vision_start/image_pad    rel1000
    Qwen2.5-VL (qwen2_5_vl)      flat list over batch    vision_start/image_pad    resized
    Qwen3-VL (qwen3_vl)          flat list over batch    vision_start/image_pad    rel1000
    SmolVLM (idefics3, smolvlm)  one list per prompt     <image>, <global-img>...  None
    LLaVA-1.5 (llava)            flat list over batch    <image>                   norm
    text (qwen2, qwen3, llama)   ignored                 none                      None

Sources for ``box_format`` are in docs/models.md; ``None`` means the family has no documented
convention, so a grounding reward must be given one explicitly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import torch

from mmrft.data.sample import Sample
from mmrft.registry import Registry

log = logging.getLogger(__name__)

FAMILIES: Registry[type[ModelFamily]] = Registry("model family")  # noqa: F821 (defined below)

# The linear layers of a Llama/Qwen decoder block: LoRA's default targets in every family.
DECODER_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class ModelFamily:
    """Adapter for chat-template VLMs whose processor takes ``text=`` and ``images=``.

    ``processor`` is the family's processor (or a plain tokenizer for text-only LMs).
    """

    processor: object
    system_prompt: str | None = None

    multimodal: bool = True
    # Tokens that only the processor may place (vision placeholders).
    never_sample_tokens: tuple[str, ...] = (
        "<|image_pad|>",
        "<|video_pad|>",
        "<|vision_start|>",
        "<|vision_end|>",
    )
    box_format: str | None = None
    """Coordinates the checkpoints write boxes in (a ``rewards.grounding.BOX_FORMATS`` name);
    None when the family has no documented convention. A fine-tune may override it."""

    # Module paths inside the HF model (``model.get_submodule(path)``), for LoRA and freezing.
    language_model: ClassVar[str] = "model.language_model"
    vision_tower: ClassVar[tuple[str, ...]] = ()
    projector: ClassVar[tuple[str, ...]] = ()
    """Vision-to-text connector; may sit inside ``vision_tower`` (Qwen's merger does)."""
    lora_projections: ClassVar[tuple[str, ...]] = DECODER_PROJECTIONS

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    def messages(self, sample: Sample) -> list[dict]:
        content: list[dict] = [{"type": "image"} for _ in sample.images] if self.multimodal else []
        content.append({"type": "text", "text": sample.prompt})
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return msgs + [{"role": "user", "content": content}]

    def prompt_text(self, sample: Sample) -> str:
        return self.processor.apply_chat_template(
            self.messages(sample), add_generation_prompt=True, tokenize=False
        )

    def encode(self, samples: list[Sample]) -> dict[str, torch.Tensor]:
        """Left-padded prompt inputs for a batch: input_ids [B, P], attention_mask [B, P], + vision keys."""
        texts = [self.prompt_text(s) for s in samples]
        tok = self.tokenizer
        tok.padding_side = "left"
        if not self.multimodal:
            return dict(tok(texts, return_tensors="pt", padding=True, add_special_tokens=False))
        images = self.processor_images(samples)
        return dict(self.processor(text=texts, images=images, return_tensors="pt", padding=True))

    def processor_images(self, samples: list[Sample]) -> list | None:
        """The ``images=`` argument of the processor: here one flat list over the batch."""
        return [img for s in samples for img in s.images] or None

    @classmethod
    def lora_target_modules(cls) -> str:
        """A peft ``target_modules`` regex: the decoder's linear layers, language model only.

        Vision encoders reuse names such as ``q_proj`` (SigLIP, CLIP) and ``gate_proj``
        (Qwen2.5-VL), so a bare name list would also adapt the vision tower.
        """
        path = cls.language_model.replace(".", r"\.")
        names = "|".join(cls.lora_projections)
        return rf"{path}\.layers\.\d+\.(self_attn|mlp)\.({names})"

    @classmethod
    def apply_pixel_budget(
        cls, processor: object, min_pixels: int | None, max_pixels: int | None
    ) -> None:
        """Set the image processor's pixel budget, where the family has one (Qwen-VL's)."""
        if min_pixels or max_pixels:
            log.info("%s has no pixel budget; min/max_pixels ignored", cls.__name__)

    def share_vision(
        self, model: torch.nn.Module, prompt_inputs: dict[str, torch.Tensor], source: list[int]
    ) -> dict[str, torch.Tensor]:
        """Inputs where rows with identical images reuse one vision-encoder pass.

        ``source[r]`` is the first row whose images equal row r's (a GRPO group repeats one
        prompt G times). The default adapter has no way to inject encoder outputs, so it returns
        the inputs unchanged; families that can, override this.
        """
        return prompt_inputs

    def suppressed_token_ids(self) -> list[int]:
        """Ids of ``never_sample_tokens``; computed once, since every log-prob pass asks for them
        and ``get_vocab()`` builds a dict of the whole (150k-entry for real models) vocabulary."""
        if "_suppressed" not in self.__dict__:
            vocab = self.tokenizer.get_vocab()
            self._suppressed = sorted(vocab[t] for t in self.never_sample_tokens if t in vocab)
        return self._suppressed


@FAMILIES.register("qwen2_5_vl")
@dataclass
class QwenVLFamily(ModelFamily):
    """Qwen2.5-VL (and the base of Qwen2-VL / Qwen3-VL).

    mRoPE positions need ``mm_token_type_ids`` from the processor. Boxes are absolute pixels of
    the image *as the processor resized it* (``"resized"``), per the Qwen2.5-VL report.
    """

    box_format: str | None = "resized"
    vision_tower: ClassVar[tuple[str, ...]] = ("model.visual",)
    projector: ClassVar[tuple[str, ...]] = ("model.visual.merger",)

    @classmethod
    def apply_pixel_budget(cls, processor, min_pixels, max_pixels):
        """min/max_pixels bound the resized area, which fixes how many visual tokens an image costs."""
        image_processor = getattr(processor, "image_processor", None)
        if image_processor is None or not (min_pixels or max_pixels):
            return
        size = dict(getattr(image_processor, "size", None) or {})
        size["shortest_edge"] = min_pixels or size.get("shortest_edge")
        size["longest_edge"] = max_pixels or size.get("longest_edge")
        image_processor.size = size

    def share_vision(self, model, prompt_inputs, source):
        """Encode each distinct row's images once and hand the features in as ``mm_encoder_outputs``.

        Exact: the language model sees the same features, and autograd sums the G duplicates'
        gradients into the one shared encoder pass. Saves (G-1)/G of the vision compute.
        """
        grid = prompt_inputs.get("image_grid_thw")
        if grid is None or len(set(source)) == len(source) or grid.shape[0] != len(source):
            return prompt_inputs  # nothing shared, or not one image per row
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        from mmrft.rollout.base import select_prompt_rows

        unique = sorted(set(source))
        sub = select_prompt_rows(prompt_inputs, unique, [1] * len(source))
        feats = model.model.get_image_features(
            sub["pixel_values"], sub["image_grid_thw"], return_dict=True
        )
        pos = {row: i for i, row in enumerate(unique)}
        pooled = [feats.pooler_output[pos[src]] for src in source]  # one [tokens, H] per row
        inputs = {k: v for k, v in prompt_inputs.items() if k != "pixel_values"}
        inputs["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=pooled)}
        return inputs


@FAMILIES.register("qwen2_vl")
@dataclass
class Qwen2VLFamily(QwenVLFamily):
    """Qwen2-VL: boxes as ``(x1,y1),(x2,y2)`` integers scaled to [0, 1000) (Qwen2-VL README)."""

    box_format: str | None = "rel1000"


@FAMILIES.register("qwen3_vl")
@dataclass
class Qwen3VLFamily(QwenVLFamily):
    """Qwen3-VL: 16-px patches, interleaved mRoPE, deepstack features; boxes back in [0, 1000].

    Vision sharing is off: Qwen3-VL's encoder also returns deepstack features that the
    ``mm_encoder_outputs`` path of ``QwenVLFamily.share_vision`` does not carry.
    """

    box_format: str | None = "rel1000"
    projector: ClassVar[tuple[str, ...]] = (
        "model.visual.merger",
        "model.visual.deepstack_merger_list",
    )

    def share_vision(self, model, prompt_inputs, source):
        return prompt_inputs


SMOLVLM_PLACEHOLDERS = (
    "<image>",
    "<fake_token_around_image>",
    "<global-img>",
    *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)),
)


@FAMILIES.register("smolvlm")
@FAMILIES.register("idefics3")
@dataclass
class SmolVLMFamily(ModelFamily):
    """SmolVLM / Idefics3 (SmolVLM-Instruct checkpoints are ``idefics3``, SmolVLM2 ``smolvlm``).

    The processor wants images as one list *per prompt* and expands each ``<image>`` of the chat
    template into ``<fake_token_around_image><global-img><image>*image_seq_len...`` (plus
    ``<row_r_col_c>`` tiles when image splitting is on). No documented box convention.
    """

    never_sample_tokens: tuple[str, ...] = (*SMOLVLM_PLACEHOLDERS, "<video>")
    language_model: ClassVar[str] = "model.text_model"
    vision_tower: ClassVar[tuple[str, ...]] = ("model.vision_model",)
    projector: ClassVar[tuple[str, ...]] = ("model.connector",)

    def processor_images(self, samples):
        return [list(s.images) for s in samples] if any(s.images for s in samples) else None


@FAMILIES.register("llava")
@dataclass
class LlavaFamily(ModelFamily):
    """LLaVA-1.5 (llava-hf): CLIP tower + MLP projector + Llama; one ``<image>`` per token.

    LLaVA-1.5's grounding data writes boxes as [x1, y1, x2, y2] fractions of the (padded,
    square) image with two decimals: ``"norm"``.
    """

    never_sample_tokens: tuple[str, ...] = ("<image>",)
    box_format: str | None = "norm"
    vision_tower: ClassVar[tuple[str, ...]] = ("model.vision_tower",)
    projector: ClassVar[tuple[str, ...]] = ("model.multi_modal_projector",)


@FAMILIES.register("qwen2")
@FAMILIES.register("qwen3")
@FAMILIES.register("llama")
@dataclass
class TextFamily(ModelFamily):
    """Text-only causal LMs: images in a sample are ignored; the prompt is the text alone."""

    multimodal: bool = False
    language_model: ClassVar[str] = "model"


def family_for(model_type: str, processor: object, system_prompt: str | None = None) -> ModelFamily:
    return FAMILIES.get(model_type)(processor=processor, system_prompt=system_prompt)
