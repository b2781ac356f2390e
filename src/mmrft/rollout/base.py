"""What every rollout engine returns, and the registry engines live in."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import torch
from torch import Tensor

from mmrft.models.rows import row_items, select_prompt_rows
from mmrft.registry import Registry

SAMPLERS: Registry[type] = Registry("rollout engine")


class Sampler(Protocol):
    """What the trainer and the evaluation need of a rollout engine (``SAMPLERS`` entries)."""

    def generate(self, samples: list, params: SamplingParams) -> RolloutBatch: ...


@dataclass
class SamplingParams:
    """Decoding settings shared by all engines. ``temperature == 0`` means greedy."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 16
    seed: int | None = None


@dataclass
class RolloutBatch:
    """N = len(samples) * n rows, group-contiguous (rows [i*n, (i+1)*n) answer sample i).

    prompt_inputs: processor output for each row (input_ids/attention_mask [N, P] left padded,
    plus vision keys); completion_ids/mask [N, L] right padded, mask 1 up to and including EOS.
    """

    prompt_inputs: dict[str, Tensor]
    completion_ids: Tensor
    completion_mask: Tensor
    texts: list[str]
    sample_index: list[int]
    images_per_row: list[int]
    finished: Tensor | None = None
    """[N] bool: the completion ended with EOS (False = cut off at max_new_tokens)."""
    pad_id: int = 0
    videos_per_row: list[int] | None = None
    """Videos in each row's prompt (their frames are counted in ``images_per_row`` only where
    the processor folds them into the image tensors: InternVL, SmolVLM2)."""
    per_image_keys: tuple[str, ...] = ()
    """Processor outputs stacked per image ([n_images, ...], e.g. LLaVA's pixel_values), which
    row selection must slice by image rather than by row (``ModelFamily.per_image_keys``)."""
    logprobs: Tensor | None = None
    """[N, L] log-probs of the sampled tokens under the distribution the engine sampled from
    (0 at padding), or None; the trainer compares them with its own (train/inference gap)."""
    audios_per_row: list[int] | None = None
    """Audio clips in each row's prompt (None: no row has audio)."""
    per_video_keys: tuple[str, ...] = ()
    """Processor outputs stacked per video ([n_videos, ...]), sliced by video."""
    per_audio_keys: tuple[str, ...] = ()
    """Processor outputs stacked per audio clip ([n_clips, ...]), sliced by clip."""
    image_spans: list[int] | None = None
    """Entries of the ``per_image_keys`` tensors each image occupies, in row order (InternVL's
    tiles per image); None: one each."""

    def select(self, rows: list[int]) -> dict[str, Tensor]:
        """Prompt inputs of a subset of rows (vision tensors sliced to those rows' images)."""
        return select_prompt_rows(
            self.prompt_inputs,
            rows,
            self.images_per_row,
            videos_per_row=self.videos_per_row,
            audios_per_row=self.audios_per_row,
            per_image_keys=self.per_image_keys,
            per_video_keys=self.per_video_keys,
            per_audio_keys=self.per_audio_keys,
            image_spans=self.image_spans,
        )

    def subset(self, rows: list[int]) -> RolloutBatch:
        """The batch restricted to ``rows``; sample_index renumbered densely in row order."""
        dense: dict[int, int] = {}
        index = [dense.setdefault(self.sample_index[r], len(dense)) for r in rows]
        return replace(
            self,
            prompt_inputs=self.select(rows),
            completion_ids=self.completion_ids[rows],
            completion_mask=self.completion_mask[rows],
            texts=[self.texts[r] for r in rows],
            sample_index=index,
            images_per_row=[self.images_per_row[r] for r in rows],
            videos_per_row=_pick(self.videos_per_row, rows),
            audios_per_row=_pick(self.audios_per_row, rows),
            image_spans=None
            if self.image_spans is None
            else [self.image_spans[i] for i in row_items(rows, self.images_per_row)],
            finished=None if self.finished is None else self.finished[rows],
            logprobs=None if self.logprobs is None else self.logprobs[rows],
        )

    @property
    def num_tokens(self) -> int:
        return int(self.completion_mask.sum())


def media_layout(family, rows: list, inputs: dict[str, Tensor]) -> dict:
    """How each row's images, videos and audio clips sit in the processor outputs ``inputs``:
    the ``RolloutBatch`` fields every engine fills the same way (a video's frames count as
    images only where the family folds them into its image tensors,
    ``ModelFamily.images_in_tensors``)."""
    video = [family.multimodal and family.is_video(r) for r in rows]
    audios = [len(r.audios) if family.supports_audio else 0 for r in rows]
    return {
        "images_per_row": [family.images_in_tensors(r) for r in rows],
        "videos_per_row": [int(v) for v in video],
        "audios_per_row": audios if any(audios) else None,
        "per_image_keys": family.per_image_keys,
        "per_video_keys": family.per_video_keys,
        "per_audio_keys": family.per_audio_keys,
        "image_spans": family.image_spans(inputs, rows) if family.multimodal else None,
    }


def _pick(values: list[int] | None, rows: list[int]) -> list[int] | None:
    return None if values is None else [values[r] for r in rows]


def _cat_padded(tensors: list[Tensor]) -> Tensor:
    """Concatenate along dim 0, zero-padding the other dims to the largest (e.g. LLaVA-NeXT's
    pixel_values [n_images, tiles, C, H, W] with a different tile count per chunk)."""
    shape = [max(t.shape[d] for t in tensors) for d in range(1, tensors[0].dim())]
    padded = []
    for t in tensors:
        if list(t.shape[1:]) != shape:
            out = t.new_zeros((t.shape[0], *shape))
            out[tuple(slice(0, n) for n in t.shape)] = t
            t = out
        padded.append(t)
    return torch.cat(padded, 0)


def _pad_cat(tensors: list[Tensor], value: float, left: bool) -> Tensor:
    width = max(t.shape[1] for t in tensors)
    padded = []
    for t in tensors:
        pad = t.new_full((t.shape[0], width - t.shape[1]), value)
        padded.append(torch.cat([pad, t], 1) if left else torch.cat([t, pad], 1))
    return torch.cat(padded, 0)


def concat_batches(batches: list[RolloutBatch]) -> RolloutBatch:
    """One batch from several: prompts re-left-padded, completions re-right-padded, and each
    batch's sample_index offset so samples stay distinct."""
    if len(batches) == 1:
        return batches[0]
    pad_id = batches[0].pad_id
    prompt_inputs: dict[str, Tensor] = {}
    keys = dict.fromkeys(k for b in batches for k in b.prompt_inputs)  # a chunk may lack
    for key in keys:  # e.g. video tensors when none of its rows has a video
        parts = [b.prompt_inputs[key] for b in batches if key in b.prompt_inputs]
        if key == "input_ids":
            prompt_inputs[key] = _pad_cat(parts, pad_id, left=True)
        elif key in ("attention_mask", "mm_token_type_ids", "token_type_ids"):
            prompt_inputs[key] = _pad_cat(parts, 0, left=True)
        else:  # pixel_values [sum patches, D] / [n_images, ...], grids: concat (padded if needed)
            prompt_inputs[key] = _cat_padded(parts)
    index, offset = [], 0
    for b in batches:
        index += [i + offset for i in b.sample_index]
        offset += max(b.sample_index, default=-1) + 1
    finished = [b.finished for b in batches]
    logprobs = [b.logprobs for b in batches]
    videos = [b.videos_per_row for b in batches]
    first = batches[0]
    return RolloutBatch(
        prompt_inputs,
        _pad_cat([b.completion_ids for b in batches], pad_id, left=False),
        _pad_cat([b.completion_mask for b in batches], 0, left=False),
        [t for b in batches for t in b.texts],
        index,
        [k for b in batches for k in b.images_per_row],
        finished=None if any(f is None for f in finished) else torch.cat(finished),
        pad_id=pad_id,
        videos_per_row=None if any(v is None for v in videos) else [k for v in videos for k in v],
        per_image_keys=first.per_image_keys,
        logprobs=None if any(x is None for x in logprobs) else _pad_cat(logprobs, 0.0, left=False),
        # a chunk without audio (or with one entry per image) has None: fill in the neutral value
        audios_per_row=None
        if all(b.audios_per_row is None for b in batches)
        else [k for b in batches for k in (b.audios_per_row or [0] * len(b.texts))],
        per_video_keys=first.per_video_keys,
        per_audio_keys=first.per_audio_keys,
        image_spans=None
        if all(b.image_spans is None for b in batches)
        else [k for b in batches for k in (b.image_spans or [1] * sum(b.images_per_row))],
    )
