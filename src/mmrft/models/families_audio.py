"""Audio-language families: Qwen2-Audio (``qwen2_audio``), clips in, text out.

Design note: an audio family is ``multimodal`` (its processor takes more than text) but takes
``Sample.audios`` instead of images. The chat template writes ``Audio k: <|audio_bos|><|AUDIO|>
<|audio_eos|>`` per clip, before the prompt text (the order of Qwen2-Audio's examples); the
processor pads every clip to the feature extractor's ``chunk_length`` (30 s on real
checkpoints), turns it into log-mel features and expands the one ``<|AUDIO|>`` into one token
per encoder output frame:

    samples T -> mel frames F = ceil(T / hop) -> conv stride 2: (F - 1) // 2 + 1
              -> average pool 2: (that - 2) // 2 + 1 audio tokens      (1 s at 16 kHz: 25)

``input_features`` [n_clips, mel, frames] and ``feature_attention_mask`` [n_clips, frames] are
stacked per clip in row order (``per_audio_keys``), so a text-only row beside audio rows adds
none and row selection slices them by clip. Each clip is featurised on its own (padded alone,
normalised by its own maximum) and the encoder masks its padding frames, so a clip's tokens do
not depend on the batch around it.

What ``encode`` refuses, naming the sample: images (this family has no vision tower; they are
refused rather than silently dropped, since dropping them would change the question), a clip
that is not a 1-D waveform, a clip too short to give two audio tokens (one token sends
transformers down its legacy merge path, zero tokens cannot be placed at all) and a clip
longer than the extractor's chunk (the processor would silently cut it). Clips at another
``meta["sampling_rate"]`` are resampled to the extractor's rate (``mmrft.data.audio``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from mmrft.data.audio import SAMPLING_RATE, resample
from mmrft.data.sample import Sample
from mmrft.models.families import FAMILIES, ModelFamily

QWEN2_AUDIO_PLACEHOLDERS = ("<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>")
MIN_AUDIO_TOKENS = 2


def audio_tokens(frames: int) -> int:
    """Qwen2-Audio encoder outputs for ``frames`` mel frames: conv (stride 2), then pool (2).

    >>> audio_tokens(100), audio_tokens(50), audio_tokens(3000)
    (25, 12, 750)
    """
    after_conv = (frames - 1) // 2 + 1
    return (after_conv - 2) // 2 + 1


# Fewest mel frames that give MIN_AUDIO_TOKENS tokens (the shortest clip check_sample accepts).
MIN_FRAMES = next(f for f in itertools.count(1) if audio_tokens(f) >= MIN_AUDIO_TOKENS)


@FAMILIES.register("qwen2_audio")
@dataclass
class Qwen2AudioFamily(ModelFamily):
    """Qwen2-Audio(-Instruct): Whisper-large-v3-style encoder + linear projector + Qwen2.

    No documented box convention (no images at all).
    """

    never_sample_tokens: tuple[str, ...] = QWEN2_AUDIO_PLACEHOLDERS
    box_format: str | None = None

    vision_tower: ClassVar[tuple[str, ...]] = ("model.audio_tower",)
    """The audio encoder: what ``freeze_vision`` freezes and LoRA leaves out."""
    projector: ClassVar[tuple[str, ...]] = ("model.multi_modal_projector",)
    max_images: ClassVar[int | None] = 0
    supports_audio: ClassVar[bool] = True
    per_audio_keys: ClassVar[tuple[str, ...]] = ("input_features", "feature_attention_mask")

    auto_model: ClassVar[str] = "AutoModelForMultimodalLM"  # not an image-text-to-text model

    def media_parts(self, sample: Sample) -> list[dict]:
        return [{"type": "audio"} for _ in sample.audios]

    @property
    def feature_extractor(self):
        return self.processor.feature_extractor

    def check_sample(self, sample: Sample) -> None:
        """The base checks (placeholder text, video) plus: no images, clips the encoder takes."""
        if sample.images:
            raise ValueError(
                f"sample {sample.id!r} has {len(sample.images)} image(s) but "
                f"{type(self).__name__} takes audio only (Sample.audios); drop the images"
            )
        super().check_sample(sample)
        fe = self.feature_extractor
        rate = int(sample.meta.get("sampling_rate", SAMPLING_RATE))
        # F frames need more than (F - 1) hops of samples (ceil(T / hop) = F)
        shortest = math.ceil(((MIN_FRAMES - 1) * fe.hop_length + 1) * rate / fe.sampling_rate)
        for k, clip in enumerate(sample.audios):
            shape = np.shape(clip)
            if len(shape) != 1:
                raise ValueError(
                    f"sample {sample.id!r}: audio clip {k} has shape {shape}; a clip is a mono "
                    "waveform [T] (average the channels of a stereo clip)"
                )
            seconds = shape[0] / rate
            if shape[0] < shortest:
                raise ValueError(
                    f"sample {sample.id!r}: audio clip {k} is {seconds:.3f} s, shorter than "
                    f"the {shortest / rate:.3f} s that gives {MIN_AUDIO_TOKENS} audio tokens"
                )
            if seconds * fe.sampling_rate > fe.n_samples:
                raise ValueError(
                    f"sample {sample.id!r}: audio clip {k} is {seconds:.2f} s, longer than the "
                    f"{fe.n_samples / fe.sampling_rate:g} s the feature extractor takes (it "
                    "would be cut); split the clip"
                )

    def clips(self, samples: list[Sample]) -> list[np.ndarray]:
        """The ``audio=`` argument: every row's clips, flat in row order, at the extractor's rate."""
        target = self.feature_extractor.sampling_rate
        return [
            resample(clip, int(s.meta.get("sampling_rate", SAMPLING_RATE)), target)
            for s in samples
            for clip in s.audios
        ]

    def _encode(self, samples: list[Sample]) -> dict[str, torch.Tensor]:
        """input_ids / attention_mask [B, P] left padded; with any clip also input_features
        [n_clips, mel, frames] and feature_attention_mask [n_clips, frames]."""
        texts = [self.prompt_text(s) for s in samples]
        self.tokenizer.padding_side = "left"
        clips = self.clips(samples)
        if not clips:  # the processor's audio path needs at least one clip
            return dict(
                self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
            )
        inputs = self.processor(
            text=texts,
            audio=clips,
            sampling_rate=self.feature_extractor.sampling_rate,
            return_tensors="pt",
            padding=True,
            **self.processor_kwargs,
        )
        inputs = dict(inputs)
        inputs.pop("num_audio_tokens", None)  # bookkeeping of the processor, not a model input
        return inputs

    def image_token_id(self) -> int | None:
        return None  # no images; the audio count is checked in check_encoded

    def check_encoded(self, inputs: dict[str, torch.Tensor], samples: list[Sample]) -> None:
        """The context check, plus per row: ``<|AUDIO|>`` tokens = the encoder outputs of its
        clips (from each clip's mel frames, ``feature_attention_mask``)."""
        super().check_encoded(inputs, samples)
        frames = inputs.get("feature_attention_mask")
        per_clip = [] if frames is None else [audio_tokens(int(f)) for f in frames.sum(-1)]
        audio_id = self.tokenizer.convert_tokens_to_ids(self.processor.audio_token)
        found = (inputs["input_ids"] == audio_id).sum(1).tolist()
        start = 0
        for sample, got in zip(samples, found, strict=True):
            want = sum(per_clip[start : start + len(sample.audios)])
            start += len(sample.audios)
            if want != got:
                raise ValueError(
                    f"sample {sample.id!r}: {got} audio tokens in the prompt but its "
                    f"{len(sample.audios)} clip(s) give {want} encoder outputs"
                )
