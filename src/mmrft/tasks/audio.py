"""Audio: "How many beeps are in the audio?" over synthetic clips of sine bursts and silence.

Design note: a clip is ``duration`` seconds of 16 kHz mono audio holding N beeps, each a
Hann-windowed sine burst (smooth on/offset, so no click reads as an extra beep) separated from
the next by at least ``min_gap`` seconds of silence. A ``random.Random`` seeded from
``(seed, level)`` draws the count, the beep lengths, pitches and the slack between them; a
``numpy`` Generator seeded the same way draws the level-5 background hiss, so a sample is a
pure function of ``(kwargs, seed, level)``. ``meta["beeps"]`` holds each beep's
``[start, end)`` sample range and frequency, so the answer is recomputable from the waveform
(an energy envelope over 10 ms frames has exactly N runs above half the quietest beep).

    level  beeps  pitch                  loudness    background
    1      1-3    880 Hz                 0.5         silence
    2      1-5    880 Hz                 0.5         silence
    3      1-7    440-1760 Hz per beep   0.5         silence
    4      1-9    440-1760 Hz per beep   0.25-0.6    silence
    5      1-9    440-1760 Hz per beep   0.25-0.6    hiss (0.02 RMS)

Only audio families take these samples (``ModelFamily.supports_audio``); an image family
refuses them with a ValueError naming the sample. The reward is "count".
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import numpy as np

from mmrft.data.audio import SAMPLING_RATE
from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task


@dataclass(frozen=True)
class BeepLevel:
    count: tuple[int, int]
    """Inclusive range the number of beeps is drawn from."""
    pitch: tuple[float, float]
    """Frequency range in Hz (log-uniform per beep); equal ends: one fixed pitch."""
    loudness: tuple[float, float]
    """Peak amplitude range per beep."""
    hiss: float = 0.0
    """RMS of the white-noise background."""


LEVELS: dict[int, BeepLevel] = {
    1: BeepLevel((1, 3), (880.0, 880.0), (0.5, 0.5)),
    2: BeepLevel((1, 5), (880.0, 880.0), (0.5, 0.5)),
    3: BeepLevel((1, 7), (440.0, 1760.0), (0.5, 0.5)),
    4: BeepLevel((1, 9), (440.0, 1760.0), (0.25, 0.6)),
    5: BeepLevel((1, 9), (440.0, 1760.0), (0.25, 0.6), hiss=0.02),
}


def beep(n_samples: int, freq: float, amplitude: float, rate: int = SAMPLING_RATE) -> np.ndarray:
    """One Hann-windowed sine burst [n_samples] float32 peaking near ``amplitude``."""
    t = np.arange(n_samples) / rate
    return (amplitude * np.hanning(n_samples) * np.sin(2 * math.pi * freq * t)).astype(np.float32)


@TASKS.register("beeps")
class BeepsTask(Task):
    """Count the beeps in a synthetic clip. ``answer`` is the count as a decimal string.

    Args:
        duration: clip length in seconds (the tiny Qwen2-Audio takes up to 2 s, real ones 30 s).
        beep_range: shortest and longest beep in seconds.
        min_gap: least silence between beeps (and before the first / after the last), seconds.

    >>> s = BeepsTask().generate(seed=7, level=2)
    >>> s.prompt, s.answer == str(len(s.meta["beeps"])), s.audios[0].shape, s.images
    ('How many beeps are in the audio?', True, (24000,), [])
    """

    name = "beeps"
    description = "Count the beeps (sine bursts separated by silence) in a synthetic audio clip."
    reward_name = "count"
    levels = tuple(LEVELS)

    def __init__(
        self,
        duration: float = 1.5,
        beep_range: tuple[float, float] = (0.05, 0.09),
        min_gap: float = 0.05,
    ) -> None:
        self.duration, self.min_gap = duration, min_gap
        self.beep_range = tuple(beep_range)
        most = max(spec.count[1] for spec in LEVELS.values())
        if not 0 < self.beep_range[0] <= self.beep_range[1]:
            raise ValueError(f"beep_range must be (lo, hi) with 0 < lo <= hi, got {beep_range}")
        if most * (self.beep_range[1] + min_gap) + min_gap > duration:
            raise ValueError(
                f"{most} beeps of up to {self.beep_range[1]} s with {min_gap} s gaps do not fit "
                f"in {duration} s; lengthen the clip or shorten the beeps"
            )

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        count = rng.randint(*spec.count)
        beeps = self._layout(rng, count, spec)
        wav = np.zeros(round(self.duration * SAMPLING_RATE), np.float32)  # [T]
        if spec.hiss:
            noise = np.random.default_rng([seed, level]).standard_normal(len(wav))
            wav += (spec.hiss * noise).astype(np.float32)
        for start, end, freq, amplitude in beeps:
            wav[start:end] += beep(end - start, freq, amplitude)
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt="How many beeps are in the audio?",
            answer=str(count),
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "sampling_rate": SAMPLING_RATE,
                "beeps": [[s, e, f] for s, e, f, _ in beeps],
            },
            audios=[wav],
        )

    def _layout(
        self, rng: random.Random, count: int, spec: BeepLevel
    ) -> list[tuple[int, int, float, float]]:
        """``(start, end, freq, amplitude)`` per beep: lengths first, then the leftover time
        split at random over the count + 1 gaps, each gap at least ``min_gap``."""
        rate = SAMPLING_RATE
        lengths = [round(rng.uniform(*self.beep_range) * rate) for _ in range(count)]
        gap = round(self.min_gap * rate)
        slack = round(self.duration * rate) - sum(lengths) - gap * (count + 1)
        cuts = sorted(rng.randint(0, slack) for _ in range(count))  # slack split in count + 1
        extra = [b - a for a, b in zip([0, *cuts[:-1]], cuts, strict=True)]
        lo, hi = (math.log(f) for f in spec.pitch)
        beeps, t = [], 0
        for length, more in zip(lengths, extra, strict=True):
            t += gap + more
            freq = round(math.exp(rng.uniform(lo, hi)), 1)
            beeps.append((t, t + length, freq, rng.uniform(*spec.loudness)))
            t += length
        return beeps
