"""The VLM families beyond Qwen-VL: SmolVLM (Idefics3) and SmolVLM2, LLaVA-1.5 / -NeXT /
-OneVision, Gemma 3 and InternVL (transformers-native).

What they share, and why it lives apart from ``families.py``: their processors want images as
one list per prompt or cut an image into a size-dependent number of tiles, and the ones with
video either keep the frames in a video tensor of their own (LLaVA-OneVision) or fold each
frame into ``pixel_values`` as one more image (InternVL, SmolVLM2). The adapters therefore tell
``rollout.base`` how many entries of the per-image tensors each image occupies
(``image_spans``, read from the placeholder runs in the prompt) and how many images a row holds
there (``images_in_tensors``), so selecting rows of a batch slices the right tiles and frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from mmrft.data.sample import Sample
from mmrft.models.families import FAMILIES, ModelFamily
from mmrft.models.frames import video_metadata


def _token_runs(ids: torch.Tensor, token_id: int) -> list[tuple[int, int, int]]:
    """(row, start, length) of every maximal run of ``token_id`` in ids [B, P], row by row."""
    is_tok = (ids == token_id).int()  # [B, P]
    edges = torch.diff(is_tok, dim=1, prepend=is_tok.new_zeros(ids.shape[0], 1))  # +1 at starts
    ends = torch.diff(is_tok, dim=1, append=is_tok.new_zeros(ids.shape[0], 1))  # -1 at run ends
    starts = (edges == 1).nonzero().tolist()  # [[row, start], ...] row-major
    stops = (ends == -1).nonzero()[:, 1].tolist()
    return [
        (row, start, stop - start + 1) for (row, start), stop in zip(starts, stops, strict=True)
    ]


def _check_frame_counts(samples: list[Sample], family: ModelFamily) -> None:
    """The videos of one batch must have equal frame counts where the processor stacks them
    into one [n_videos, frames, ...] tensor (or, SmolVLM2, describes each by the longest)."""
    counts = {s.id: len(s.images) for s in samples if family.is_video(s)}
    first, want = next(iter(counts.items()))
    for sample_id, got in counts.items():
        if got != want:
            raise ValueError(
                f"sample {sample_id!r} has {got} video frames but sample {first!r} in the same "
                f"batch has {want}; {type(family).__name__} needs a batch's videos to be of one "
                "length: set model.max_frames (or batch videos of equal length)"
            )


def _encode_with_videos(family: ModelFamily, samples: list[Sample], **extra) -> dict:
    """The processor call for a batch with videos: each video sample's frames as one video
    (``videos=``, taken as given: no resampling by the processor), the other rows' images
    beside them (``family.processor_images``); ``extra`` processor arguments."""
    _check_frame_counts(samples, family)
    family.tokenizer.padding_side = "left"
    return dict(
        family.processor(
            text=[family.prompt_text(s) for s in samples],
            images=family.processor_images(samples),
            videos=[list(s.images) for s in samples if family.is_video(s)],
            do_sample_frames=False,
            return_tensors="pt",
            padding=True,
            **(family.processor_kwargs | extra),
        )
    )


SMOLVLM_PLACEHOLDERS = (
    "<image>",
    "<fake_token_around_image>",
    "<global-img>",
    *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)),
)


@FAMILIES.register("idefics3")
@dataclass
class SmolVLMFamily(ModelFamily):
    """SmolVLM / Idefics3 (the SmolVLM-Instruct checkpoints are ``idefics3``); no video.

    The processor wants images as one list *per prompt* and expands each ``<image>`` of the chat
    template into ``<fake_token_around_image><global-img><image>*image_seq_len...`` (plus
    ``<row_r_col_c>`` tiles when image splitting is on). Its ``pixel_values`` are per row
    ([B, most tiles in a row, 3, H, W], zero-padded); the model drops the padding, so the
    adapter re-lays them one tile each ([tiles, 1, 3, H, W], ``per_image_keys``, with
    ``image_spans`` tiles per image): a text row selected alone then carries no pixels, where a
    zero-padded entry would be encoded as one image with no tokens to fill. No documented box
    convention.
    """

    never_sample_tokens: tuple[str, ...] = (*SMOLVLM_PLACEHOLDERS, "<video>")
    language_model: ClassVar[str] = "model.text_model"
    vision_tower: ClassVar[tuple[str, ...]] = ("model.vision_model",)
    projector: ClassVar[tuple[str, ...]] = ("model.connector",)
    per_image_keys: ClassVar[tuple[str, ...]] = ("pixel_values", "pixel_attention_mask")
    images_per_prompt: ClassVar[bool] = True

    def _encode(self, samples):
        inputs = super()._encode(samples)
        if "pixel_values" not in inputs:
            return inputs
        masks = inputs.get("pixel_attention_mask")
        rows = [
            (inputs["pixel_values"][r], None if masks is None else masks[r])
            for r in range(len(samples))
        ]
        return self._one_tile_each(inputs, rows)

    def _one_tile_each(
        self, inputs: dict[str, torch.Tensor], rows: list[tuple[torch.Tensor, torch.Tensor | None]]
    ) -> dict[str, torch.Tensor]:
        """``pixel_values`` [tiles, 1, 3, H, W] (+ mask [tiles, 1, H, W]) from each row's block
        [n, 3, H, W]: its first k entries, k = its runs of ``<image>`` tokens (one per tile or
        frame; the rest is padding), H and W zero-padded to the largest."""
        per_row = [0] * len(rows)
        for row, _, _ in _token_runs(inputs["input_ids"], self.image_token_id()):
            per_row[row] += 1
        tiles = [pixels[:k] for (pixels, _), k in zip(rows, per_row, strict=True)]
        height = max(t.shape[-2] for t in tiles)
        width = max(t.shape[-1] for t in tiles)
        out = {k: v for k, v in inputs.items() if k not in self.per_image_keys}
        pixels = torch.cat([_pad_hw(t, height, width) for t in tiles])  # [tiles, 3, H, W]
        out["pixel_values"] = pixels.unsqueeze(1)
        if all(mask is not None for _, mask in rows):
            masks = [
                _pad_hw(mask[:k], height, width) for (_, mask), k in zip(rows, per_row, strict=True)
            ]
            out["pixel_attention_mask"] = torch.cat(masks).unsqueeze(1)  # [tiles, 1, H, W]
        return out

    def image_spans(self, inputs, samples):
        """Tiles per image in batch order: an image's tiles are the ``<image>`` runs up to and
        including its global view (the run after ``<global-img>``); a frame is one."""
        ids = inputs["input_ids"]
        global_id = self.tokenizer.convert_tokens_to_ids("<global-img>")
        spans, tiles = [], 0
        for row, start, _ in _token_runs(ids, self.image_token_id()):
            tiles += 1
            if start > 0 and int(ids[row, start - 1]) == global_id:
                spans.append(tiles)
                tiles = 0
        return spans

    def expected_image_tokens(self, inputs, samples):
        """``image_seq_len`` per image (or frame) when splitting is off; tiles make it
        size-dependent."""
        own = getattr(self.processor.image_processor, "do_image_splitting", True)
        if self.processor_kwargs.get("do_image_splitting", own):
            return None
        return [self.processor.image_seq_len * len(s.images) for s in samples]


def _pad_hw(t: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Zero-pad the last two dims of ``t`` to ``height`` x ``width`` (bottom/right)."""
    return torch.nn.functional.pad(t, (0, width - t.shape[-1], 0, height - t.shape[-2]))


@FAMILIES.register("smolvlm")
@dataclass
class SmolVLM2Family(SmolVLMFamily):
    """SmolVLM2 (``smolvlm``): SmolVLM plus video.

    A video's frames go in ``videos=`` with their timestamps (``video_metadata``); the processor
    writes ``"You are provided the following series of N frames..."`` and, per frame,
    ``"Frame from MM:SS:"`` + one unsplit image (``image_seq_len`` ``<image>`` tokens). The
    model sees frames as images, so the adapter folds them into ``pixel_values`` one tile each
    (``images_in_tensors``). The processor returns image and video pixels under the same key
    (the videos' replace the images'), so the images are run through the image processor again
    and both merged row by row. The videos of one batch must have equal frame counts, as in
    the other families (the processor's intro counts the batch's longest video).
    """

    supports_video: ClassVar[bool] = True
    frames_as_images: ClassVar[bool] = True

    def prompt_text(self, sample):
        # SmolVLMProcessor swaps in its built-in template for a conversation with a video
        # unless a template is given: keep the checkpoint's own.
        return self.processor.apply_chat_template(
            self.messages(sample),
            chat_template=self.processor.chat_template,
            add_generation_prompt=True,
            tokenize=False,
        )

    def _encode(self, samples):
        if not any(self.is_video(s) for s in samples):
            return super()._encode(samples)
        # Equal frame counts (checked there): the processor writes every video's intro with the
        # batch's most frames ("the following series of four frames" for a 3-frame clip too).
        metadata = [video_metadata(s) for s in samples if self.is_video(s)]
        inputs = _encode_with_videos(self, samples, video_metadata=metadata)
        images = self.processor_images(samples)
        # now pixel_values [n_videos, most frames, 3, H, W]: the videos' frames only
        frames, frame_masks = inputs["pixel_values"], inputs.get("pixel_attention_mask")
        if images is not None:
            pics = self.processor.image_processor(images, return_tensors="pt")
        rows, video = [], 0
        for r, sample in enumerate(samples):
            if self.is_video(sample):
                mask = None if frame_masks is None else frame_masks[video]
                rows.append((frames[video], mask))
                video += 1
            elif images is not None:
                mask = pics.get("pixel_attention_mask")
                rows.append((pics["pixel_values"][r], None if mask is None else mask[r]))
            else:  # a text row in a batch without images: no tiles
                rows.append((frames[:0, 0], None if frame_masks is None else frame_masks[:0, 0]))
        return self._one_tile_each(inputs, rows)


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
    per_image_keys: ClassVar[tuple[str, ...]] = ("pixel_values", "image_sizes")


@FAMILIES.register("llava_next")
@dataclass
class LlavaNextFamily(LlavaFamily):
    """LLaVA-NeXT (1.6): LLaVA plus any-res tiling over ``image_grid_pinpoints``.

    An image costs a base view plus its tiles, unpadded to the image's aspect ratio, plus one
    ``image_newline`` per row of features -- the count depends on the image's size.
    ``pixel_values`` is ``[n_images, max_tiles, 3, H, W]`` (padded over the batch) with
    ``image_sizes`` ``[n_images, 2]``. No documented box convention: LLaVA-1.5's "norm" was
    relative to the image padded to a square, which any-res no longer does.
    """

    box_format: str | None = None


@FAMILIES.register("llava_onevision")
@dataclass
class LlavaOnevisionFamily(LlavaFamily):
    """LLaVA-OneVision: SigLIP + MLP + Qwen2 in ChatML, any-res for single images, and video.

    Images go in one list per prompt: the processor returns ``batch_num_images`` [B], and a
    prompt with several images gives each only its base view (+ newline) instead of any-res
    tiles. A video sample's frames go in ``videos=`` (one list per video): each frame's features
    are pooled 2x2, ``ceil(sqrt(num_image_tokens) / 2)^2`` ``<video>`` tokens a frame plus one
    newline per video. ``pixel_values_videos`` is ``[n_videos, frames, 3, H, W]``
    (``per_video_keys``), so the videos of one batch must have equal frame counts (set
    ``max_frames``). No documented box convention.
    """

    never_sample_tokens: tuple[str, ...] = ("<image>", "<video>")
    box_format: str | None = None
    supports_video: ClassVar[bool] = True
    per_video_keys: ClassVar[tuple[str, ...]] = ("pixel_values_videos",)
    images_per_prompt: ClassVar[bool] = True

    def _encode(self, samples):
        if any(self.is_video(s) for s in samples):
            inputs = _encode_with_videos(self, samples)
        else:
            inputs = super()._encode(samples)
        # The processor counts images only for rows that have some, and not at all in a batch
        # without images; one entry per row, always (0 for video and text rows, which the model
        # skips), lets row selection index it and chunks of a rollout join row for row.
        counts = [self.images_in_tensors(s) for s in samples]
        inputs["batch_num_images"] = torch.tensor(counts, dtype=torch.long)
        return inputs


@FAMILIES.register("gemma3")
@dataclass
class Gemma3Family(ModelFamily):
    """Gemma 3 (4B/12B/27B): SigLIP + average-pool projector + Gemma 3 decoder.

    The chat template writes ``<start_of_image>`` per image; the processor expands it to
    ``<start_of_image><image_soft_token>*mm_tokens_per_image<end_of_image>``. It returns
    ``token_type_ids`` (1 on soft tokens): the model lets an image's tokens attend to each
    other bidirectionally only when they are passed, so they must reach every forward pass
    (``concat_prompt_completion`` passes them through; transformers pads them for the
    completion). No documented box convention (PaliGemma's ``<locNNNN>`` tokens are not
    Gemma 3's).

    Pan-and-scan (``processor_kwargs`` ``{"do_pan_and_scan": True}``, and optionally
    ``pan_and_scan_min_crop_size`` etc.; the processor passes its own default, off) adds crops of a wide or tall image after its full view: "Here is the original image
    <image> and here are some crops to help you see better <crop> <crop>". Each crop is one
    more entry of ``pixel_values`` and one more ``image_seq_length`` soft tokens, so an image
    spans 1 + its crops (``image_spans``).
    """

    never_sample_tokens: tuple[str, ...] = (
        "<start_of_image>",
        "<end_of_image>",
        "<image_soft_token>",
    )
    per_image_keys: ClassVar[tuple[str, ...]] = ("pixel_values",)
    vision_tower: ClassVar[tuple[str, ...]] = ("model.vision_tower",)
    projector: ClassVar[tuple[str, ...]] = ("model.multi_modal_projector",)
    images_per_prompt: ClassVar[bool] = True

    def image_token_id(self):
        return self.tokenizer.image_token_id  # the processor's image_token_id is <start_of_image>

    def image_spans(self, inputs, samples):
        """1 + its pan-and-scan crops per image, in batch order; None with pan-and-scan off.

        The processor does not return the crop counts, so the image processor is asked again
        (the crops are a function of each image's size): a second pass over the images, paid
        only with pan-and-scan on."""
        pan = self._pan_and_scan_kwargs()
        if not pan.get("do_pan_and_scan"):
            return None
        cached = self.__dict__.get("_spans")
        if cached is not None and cached[0] is inputs["input_ids"]:  # asked twice per encode
            return cached[1]
        images = [img for s in samples for img in s.images]
        crops = (
            self.processor.image_processor(images=images, return_tensors="pt", **pan)["num_crops"]
            if images
            else []
        )
        spans = [1 + int(c) for c in crops]
        self._spans = (inputs["input_ids"], spans)
        return spans

    def _pan_and_scan_kwargs(self) -> dict:
        """The pan-and-scan settings a processor call uses: the processor's defaults (off),
        under the image processor's own values where set, under ``processor_kwargs``."""
        ip = self.processor.image_processor
        merged = {}
        for key, default in getattr(self.processor, "images_kwargs", {}).items():
            if "pan_and_scan" in key:
                own = getattr(ip, key, None)
                merged[key] = default if own is None else own
        return merged | {k: v for k, v in self.processor_kwargs.items() if "pan_and_scan" in k}

    def expected_image_tokens(self, inputs, samples):
        """``image_seq_length`` soft tokens per image and per pan-and-scan crop."""
        spans = self.image_spans(inputs, samples)
        if spans is None:
            return [self.processor.image_seq_length * len(s.images) for s in samples]
        expected, start = [], 0
        for s in samples:
            expected.append(
                self.processor.image_seq_length * sum(spans[start : start + len(s.images)])
            )
            start += len(s.images)
        return expected


@FAMILIES.register("internvl")
@dataclass
class InternVLFamily(ModelFamily):
    """InternVL 2.5/3 in transformers' native format (``OpenGVLab/InternVL3-*-hf``).

    The chat template writes ``<IMG_CONTEXT>`` per image; the processor cuts the image into up
    to ``max_patches`` tiles (+ a thumbnail) and writes ``<img><IMG_CONTEXT>*n</img>``, n =
    ``image_seq_length`` x tiles. A video's ``<video>`` becomes ``Frame1: <img>...</img>`` per
    frame, one tile each, and the processor folds the frames into ``pixel_values`` in prompt
    order: ``[total tiles, 3, H, W]`` over the batch, images' tiles and videos' frames alike.
    So ``pixel_values`` is a ``per_image_keys`` entry with ``image_spans`` tiles per image and a
    frame counts as an image (``images_in_tensors``). A batch's videos are stacked by the
    video processor, so they must have equal frame counts. Grounding boxes are
    ``[[x1, y1, x2, y2]]`` scaled to [0, 1000] (InternVL's grounding prompts): ``"rel1000"``.
    The remote-code checkpoints (``model_type`` ``internvl_chat``) are not this family.
    """

    never_sample_tokens: tuple[str, ...] = ("<img>", "</img>", "<IMG_CONTEXT>", "<video>")
    box_format: str | None = "rel1000"
    vision_tower: ClassVar[tuple[str, ...]] = ("model.vision_tower",)
    projector: ClassVar[tuple[str, ...]] = ("model.multi_modal_projector",)
    supports_video: ClassVar[bool] = True
    frames_as_images: ClassVar[bool] = True
    per_image_keys: ClassVar[tuple[str, ...]] = ("pixel_values",)

    def _encode(self, samples):
        if any(self.is_video(s) for s in samples):
            return _encode_with_videos(self, samples)
        return super()._encode(samples)

    def image_spans(self, inputs, samples):
        """Tiles per image (a frame: 1) in the order ``pixel_values`` holds them: each image
        or frame is one run of ``image_seq_length`` x tiles ``<IMG_CONTEXT>`` tokens."""
        seq = self.processor.image_seq_length
        return [n // seq for _, _, n in _token_runs(inputs["input_ids"], self.image_token_id())]
