"""Audio clips on disk: 16-bit PCM WAV files read and written with the stdlib ``wave`` module.

Design note: a ``Sample`` carries each clip as a 1-D float32 waveform in [-1, 1] at
``meta["sampling_rate"]`` (``SAMPLING_RATE`` = 16 kHz, what Whisper-style audio encoders such
as Qwen2-Audio's are trained on). WAV keeps the data format free of new dependencies
(no soundfile / torchaudio); only uncompressed PCM (8/16/24/32-bit) is read, and stereo is
averaged to mono. ``resample`` is plain linear interpolation with ``numpy.interp``: exact for
the rate-doubling cases synthetic data uses, and without the anti-aliasing low-pass a
polyphase resampler applies when downsampling (fine for speech-band content; resample
beforehand with a proper tool for music or wide-band audio).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

SAMPLING_RATE = 16_000
"""The rate clips are stored at in a ``Sample`` unless ``meta["sampling_rate"]`` says otherwise."""

# Sample width in bytes -> numpy dtype of the PCM integers (8-bit WAV is unsigned).
_PCM = {1: np.uint8, 2: np.int16, 4: np.int32}


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """``(waveform, sampling_rate)`` of a PCM WAV file: waveform [T] float32 in [-1, 1], mono.

    Raises ``ValueError`` naming the file when it is not a PCM WAV file wave can read.
    """
    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
            raw = f.readframes(f.getnframes())
    except (wave.Error, EOFError) as e:
        raise ValueError(f"{path}: not a PCM WAV file ({e})") from None
    if width == 3:  # 24-bit: widen each little-endian triple to int32 (top 3 bytes)
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        ints = np.zeros((len(triples), 4), np.uint8)
        ints[:, 1:] = triples
        pcm = ints.view("<i4").ravel().astype(np.float64) / 2**31
    elif width in _PCM:
        pcm = np.frombuffer(raw, np.dtype(_PCM[width]).newbyteorder("<")).astype(np.float64)
        pcm = (pcm - 128) / 128 if width == 1 else pcm / 2 ** (8 * width - 1)
    else:
        raise ValueError(f"{path}: unsupported sample width of {width} bytes")
    wav = pcm.reshape(-1, channels).mean(1)  # [T] stereo -> mono
    return wav.astype(np.float32), rate


def write_wav(path: str | Path, waveform: np.ndarray, sampling_rate: int = SAMPLING_RATE) -> Path:
    """Write a mono waveform [T] (floats in [-1, 1), clipped) as 16-bit PCM; returns the path."""
    wav = np.asarray(waveform, dtype=np.float64)
    if wav.ndim != 1:
        raise ValueError(f"write_wav takes a mono waveform [T], got shape {wav.shape}")
    # the inverse of read_wav's x / 2**15 (so a round trip is within half a step); +1.0 clips
    pcm = np.clip(np.round(wav * 2**15), -(2**15), 2**15 - 1).astype("<i2")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sampling_rate))
        f.writeframes(pcm.tobytes())
    return path


def resample(waveform: np.ndarray, rate: int, target: int = SAMPLING_RATE) -> np.ndarray:
    """``waveform`` [T] at ``rate`` -> [round(T * target / rate)] at ``target``, float32.

    Linear interpolation between neighbouring samples (see the module note); a no-op copy
    when the rates agree.
    """
    wav = np.asarray(waveform, dtype=np.float32)
    if rate == target or len(wav) == 0:
        return wav.copy()
    n = round(len(wav) * target / rate)
    t = np.arange(n) * (rate / target)  # [n] output instants, in input-sample units
    return np.interp(t, np.arange(len(wav)), wav).astype(np.float32)


def load_clip(path: str | Path, target: int = SAMPLING_RATE) -> np.ndarray:
    """A WAV file as a mono float32 waveform [T] at ``target`` Hz (resampled if needed)."""
    wav, rate = read_wav(path)
    return resample(wav, rate, target)
