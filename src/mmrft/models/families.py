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
    LLaVA-NeXT (llava_next)      flat list over batch    <image> (any-res count)   None
    LLaVA-OneVision              one list per prompt     <image>, <video>          None
    Gemma 3 (gemma3)             one list per prompt     <start_of_image>, ...     None
    InternVL (internvl)          flat list over batch    <img>, <IMG_CONTEXT>...   rel1000
    text (qwen2, qwen3, llama)   ignored                 none                      None
    Qwen2-Audio (qwen2_audio)    refused (audio=: clips) <|AUDIO|>, ...            None

This file holds the interface, the Qwen-VL families and the text LMs; SmolVLM, LLaVA, Gemma 3
and InternVL are in ``families_anyres``, Qwen2-Audio in ``families_audio``.

Every multimodal family takes several images per prompt. The Qwen-VL families, LLaVA-OneVision,
InternVL and SmolVLM2 (``smolvlm``; not Idefics3) take video: a sample with ``meta["video"] =
True`` has its ``images`` read as the frames of one video (see ``ModelFamily.is_video``). Where
the frames go differs: Qwen-VL and LLaVA-OneVision keep them in a video tensor of their own
(``pixel_values_videos``); InternVL and SmolVLM2 fold each frame into ``pixel_values`` as one
more image (``ModelFamily.images_in_tensors``).

``encode`` fails early, naming the sample, where the model would otherwise fail late and
anonymously: a prompt that contains a placeholder string as text, more images than the family
takes, a video for a family without video, a processor that rejects a row, a row whose image
tokens disagree with its images, a prompt longer than the model's context.

Sources for ``box_format`` are in docs/models.md; ``None`` means the family has no documented
convention, so a grounding reward must be given one explicitly.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

import torch

from mmrft.data.sample import Sample
from mmrft.models.frames import select_frames, video_metadata
from mmrft.models.rows import select_prompt_rows
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
    auto_model: ClassVar[str] = "AutoModelForImageTextToText"
    """The transformers auto class ``from_pretrained`` loads a checkpoint of the family with."""

    max_images: ClassVar[int | None] = None
    """Most images one prompt may carry (None: no limit)."""
    supports_video: ClassVar[bool] = False
    frames_as_images: ClassVar[bool] = False
    """The processor folds a video's frames into the image tensors, one image each (InternVL,
    SmolVLM2), so row selection counts them as images (``images_in_tensors``)."""
    images_per_prompt: ClassVar[bool] = False
    """The processor's ``images=`` is one list per prompt rather than one flat list."""
    supports_audio: ClassVar[bool] = False
    """The family takes ``Sample.audios``; the others refuse a sample that has audio."""
    per_image_keys: ClassVar[tuple[str, ...]] = ()
    """Processor outputs stacked per image ([n_images, ...]) rather than per row; selecting
    rows of a batch slices them by image (``rollout.base.select_prompt_rows``)."""
    per_video_keys: ClassVar[tuple[str, ...]] = ()
    """The same for outputs stacked per video ([n_videos, ...], e.g. LLaVA-OneVision's
    ``pixel_values_videos``), sliced by video."""
    per_audio_keys: ClassVar[tuple[str, ...]] = ()
    """The same for outputs stacked per audio clip ([n_clips, ...], e.g. Whisper features)."""
    max_length: int | None = None
    """Context length prompts are checked against; None: the tokenizer's ``model_max_length``
    (where that is set; real checkpoints and the tiny builders set it)."""
    video_fps: float | None = None
    """Frames per second a video is sampled at before encoding (``mmrft.models.frames``);
    None keeps every recorded frame."""
    max_frames: int | None = None
    """Most frames of one video the model sees, spread over the clip; None: no limit."""
    processor_kwargs: dict = field(default_factory=dict)
    """Extra arguments of every processor call (``model.processor_kwargs``), e.g.
    ``{"do_pan_and_scan": True}`` for Gemma 3's crops of wide images."""

    @property
    def tokenizer(self):
        return getattr(self.processor, "tokenizer", self.processor)

    @staticmethod
    def is_video(sample: Sample) -> bool:
        """A video sample: ``meta["video"]`` is true and ``images`` are its frames, in order.

        A flag rather than a new ``Sample`` field, so JSONL rows and every task keep one format;
        ``meta["fps"]`` (default 2, Qwen's sampling rate) dates the frames where a family
        writes timestamps (Qwen3-VL).
        """
        return bool(sample.meta.get("video"))

    def messages(self, sample: Sample) -> list[dict]:
        content = [*self.media_parts(sample), {"type": "text", "text": sample.prompt}]
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return msgs + [{"role": "user", "content": content}]

    def media_parts(self, sample: Sample) -> list[dict]:
        """The chat-template slots before the prompt text: one video, or one per image."""
        if not self.multimodal:
            return []
        if self.is_video(sample):
            return [{"type": "video"}]
        return [{"type": "image"} for _ in sample.images]

    def prompt_text(self, sample: Sample) -> str:
        return self.processor.apply_chat_template(
            self.messages(sample), add_generation_prompt=True, tokenize=False
        )

    def encode(self, samples: list[Sample]) -> dict[str, torch.Tensor]:
        """Left-padded prompt inputs for a batch: input_ids [B, P], attention_mask [B, P], + vision keys.

        Raises ValueError naming the sample for inputs the model cannot take (see module doc).
        """
        for sample in samples:
            self.check_sample(sample)
        samples = [self.frames(s) for s in samples]
        try:
            inputs = self._encode(samples)
        except (ValueError, RuntimeError, TypeError) as err:
            raise self._blame(samples, err) from err
        self.check_encoded(inputs, samples)
        return inputs

    def _encode(self, samples: list[Sample]) -> dict[str, torch.Tensor]:
        texts = [self.prompt_text(s) for s in samples]
        tok = self.tokenizer
        tok.padding_side = "left"
        if not self.multimodal:
            return dict(tok(texts, return_tensors="pt", padding=True, add_special_tokens=False))
        images = self.processor_images(samples)
        return dict(
            self.processor(
                text=texts,
                images=images,
                return_tensors="pt",
                padding=True,
                **self.processor_kwargs,
            )
        )

    def frames(self, sample: Sample) -> Sample:
        """``sample`` as the model sees it: a video's frames cut to ``video_fps`` /
        ``max_frames`` (``mmrft.models.frames``); any other sample unchanged."""
        if not (self.supports_video and (self.video_fps or self.max_frames)):
            return sample
        return select_frames(sample, self.video_fps, self.max_frames)

    def processor_images(self, samples: list[Sample]) -> list | None:
        """The ``images=`` argument of the processor: the images of the non-video rows, one flat
        list over the batch or (``images_per_prompt``) one list per prompt; None if none."""
        images = [[] if self.is_video(s) else list(s.images) for s in samples]
        if not any(images):
            return None
        return images if self.images_per_prompt else [img for row in images for img in row]

    def check_sample(self, sample: Sample) -> None:
        """Reject what the processor would misread or the model cannot take, naming the sample."""
        if sample.audios and not self.supports_audio:
            raise ValueError(
                f"sample {sample.id!r} has {len(sample.audios)} audio clip(s) but "
                f"{type(self).__name__} takes no audio; audio families: "
                f"{[n for n in FAMILIES.names() if FAMILIES.get(n).supports_audio]}"
            )
        if not self.multimodal:
            return
        for token in self.never_sample_tokens:
            if token in sample.prompt:
                raise ValueError(
                    f"sample {sample.id!r}: the prompt contains {token!r}, a {type(self).__name__} "
                    "placeholder the processor would read as an image slot; rewrite the prompt"
                )
        if self.is_video(sample):
            if not self.supports_video:
                raise ValueError(
                    f"sample {sample.id!r} is a video (meta['video']) but {type(self).__name__} "
                    "takes no video; video families: "
                    f"{[n for n in FAMILIES.names() if FAMILIES.get(n).supports_video]}"
                )
            if not sample.images:
                raise ValueError(f"sample {sample.id!r} is a video (meta['video']) with no frames")
        elif self.max_images is not None and len(sample.images) > self.max_images:
            raise ValueError(
                f"sample {sample.id!r} has {len(sample.images)} images; {type(self).__name__} "
                f"takes at most {self.max_images} per prompt"
            )

    def _blame(self, samples: list[Sample], err: Exception) -> Exception:
        """The processor failed on the batch: re-encode one sample at a time to name the culprit."""
        if len(samples) > 1:
            for sample in samples:
                try:
                    self._encode([sample])
                except (ValueError, RuntimeError, TypeError) as single:
                    return ValueError(f"sample {sample.id!r} cannot be encoded: {single}")
        name = samples[0].id if len(samples) == 1 else [s.id for s in samples]
        return ValueError(f"sample {name!r} cannot be encoded: {err}")

    def check_encoded(self, inputs: dict[str, torch.Tensor], samples: list[Sample]) -> None:
        """Per row: prompt within the context, image-token count as the family expects."""
        lengths = inputs["attention_mask"].sum(1).tolist()
        limit = self.context_length()
        for sample, length in zip(samples, lengths, strict=True):
            if limit is not None and length > limit:
                raise ValueError(
                    f"sample {sample.id!r}: the prompt is {length} tokens, longer than the "
                    f"model's context of {limit}; shorten it or lower the images' pixel budget"
                )
        expected = self.expected_image_tokens(inputs, samples)
        if expected is None:
            return
        image_id = self.image_token_id()
        found = (inputs["input_ids"] == image_id).sum(1).tolist()
        for sample, want, got in zip(samples, expected, found, strict=True):
            if want != got:
                raise ValueError(
                    f"sample {sample.id!r}: {got} image tokens in the prompt but its "
                    f"{len(sample.images)} image(s) give {want} features"
                )

    def images_in_tensors(self, sample: Sample) -> int:
        """Images of ``sample`` the ``per_image_keys`` tensors hold (``rollout.base.media_layout``):
        its images; for a video none, its frames sitting in video tensors, unless the family
        folds the frames it sees in as images (``frames_as_images``)."""
        if not self.multimodal:
            return 0
        if not self.is_video(sample):
            return len(sample.images)
        return len(self.frames(sample).images) if self.frames_as_images else 0

    def image_spans(
        self, inputs: dict[str, torch.Tensor], samples: list[Sample]
    ) -> list[int] | None:
        """Entries of the ``per_image_keys`` tensors each image occupies, in batch order (e.g.
        InternVL's tiles per image); None: one entry per image."""
        return None

    def context_length(self) -> int | None:
        limit = self.max_length or getattr(self.tokenizer, "model_max_length", None)
        return limit if limit is not None and limit < 10**9 else None  # unset = VERY_LARGE

    def image_token_id(self) -> int | None:
        """Id of the token each image feature replaces (``processor.image_token_id``)."""
        return getattr(self.processor, "image_token_id", None)

    def expected_image_tokens(
        self, inputs: dict[str, torch.Tensor], samples: list[Sample]
    ) -> list[int] | None:
        """Image features per row, where the processor outputs determine them; None: unknown
        (any-res and tiling families), and the model's own check is the last line."""
        return None

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

    def resized_image_size(self, width: int, height: int) -> tuple[int, int]:
        """The size the processor resizes a ``width`` x ``height`` image to (boxes in the
        "resized" convention are pixels of that image); the default keeps it."""
        return width, height

    def task_box_kwargs(self, image_size: int) -> dict[str, object]:
        """Constructor arguments that make a box task (ground, detect) prompt and score in this
        family's convention; {} when the family has no documented one."""
        if self.box_format is None:
            return {}
        if self.box_format == "resized":
            w, h = self.resized_image_size(image_size, image_size)
            return {"box_format": "resized", "resized_size": [w, h]}
        return {"box_format": self.box_format}

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
    supports_video: ClassVar[bool] = True

    def _encode(self, samples):
        """Images of image samples as one flat list; each video sample's frames as one video
        (``videos=``: pixel_values_videos [patches, D], video_grid_thw [n_videos, 3])."""
        videos = [list(s.images) for s in samples if self.is_video(s)]
        if not videos:
            return super()._encode(samples)
        texts = [self.prompt_text(s) for s in samples]
        self.tokenizer.padding_side = "left"
        images = self.processor_images(samples)
        # The frames are the ones to use: no resampling by the processor; timestamps from
        # meta["fps"] and the frames' original indices (``frames.select_frames``).
        metadata = [video_metadata(s) for s in samples if self.is_video(s)]
        return dict(
            self.processor(
                text=texts,
                images=images,
                videos=videos,
                video_metadata=metadata,
                do_sample_frames=False,
                return_tensors="pt",
                padding=True,
                **self.processor_kwargs,
            )
        )

    def expected_image_tokens(self, inputs, samples):
        """grid t*h*w / merge^2 per image, summed over each row's images (video rows: 0)."""
        merge = self.processor.image_processor.merge_size
        per_image = (
            (inputs["image_grid_thw"].prod(-1) // merge**2).tolist()
            if ("image_grid_thw" in inputs)
            else []
        )
        expected, start = [], 0
        for s in samples:
            k = 0 if self.is_video(s) else len(s.images)
            expected.append(int(sum(per_image[start : start + k])))
            start += k
        return expected

    def resized_image_size(self, width: int, height: int) -> tuple[int, int]:
        """Qwen-VL's ``smart_resize``: sides rounded to patch x merge multiples, area kept within
        the processor's pixel budget."""
        from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

        ip = getattr(self.processor, "image_processor", None)
        if ip is None:
            return width, height
        size = dict(getattr(ip, "size", None) or {})
        h, w = smart_resize(
            height,
            width,
            factor=ip.patch_size * ip.merge_size,
            min_pixels=size.get("shortest_edge") or getattr(ip, "min_pixels", None) or 56 * 56,
            max_pixels=size.get("longest_edge")
            or getattr(ip, "max_pixels", None)
            or 28 * 28 * 1280,
        )
        return w, h

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
        gradients into the one shared encoder pass. Saves (G-1)/G of the vision compute. Rows
        that repeat nothing take the same path (the same compute): under FSDP2 the encoder then
        runs before the language model on every rank, whichever rows a rank's micro-batch holds,
        so the ranks' all-gathers come in the same order.
        """
        grid = prompt_inputs.get("image_grid_thw")
        if grid is None or not self._one_image_per_row(prompt_inputs):
            return prompt_inputs  # no image, or not one image per row (videos: not shared)
        from transformers.modeling_outputs import BaseModelOutputWithPooling

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

    def _one_image_per_row(self, prompt_inputs: dict[str, torch.Tensor]) -> bool:
        """Every row holds exactly one image and no video: counted from the prompt ids, since
        ``image_grid_thw`` only has one entry per image, not per row."""
        if "pixel_values_videos" in prompt_inputs:
            return False
        ids = prompt_inputs["input_ids"]  # [N, P]
        start, pad = self.tokenizer.convert_tokens_to_ids(["<|vision_start|>", "<|image_pad|>"])
        opens = (ids[:, :-1] == start) & (ids[:, 1:] == pad)  # [N, P-1] an image begins
        return bool((opens.sum(1) == 1).all())


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


@FAMILIES.register("qwen2")
@FAMILIES.register("qwen3")
@FAMILIES.register("llama")
@dataclass
class TextFamily(ModelFamily):
    """Text-only causal LMs: images in a sample are ignored; the prompt is the text alone."""

    multimodal: bool = False
    language_model: ClassVar[str] = "model"
    auto_model: ClassVar[str] = "AutoModelForCausalLM"


def family_for(
    model_type: str, processor: object, system_prompt: str | None = None, **options
) -> ModelFamily:
    """The adapter of ``model_type``; ``options`` set its fields (``video_fps``, ``max_frames``,
    ``max_length``)."""
    return FAMILIES.get(model_type)(processor=processor, system_prompt=system_prompt, **options)
