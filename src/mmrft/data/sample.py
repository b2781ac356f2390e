"""The one record every part of mmrft passes around: a prompt with images and a known answer.

On disk a dataset is a JSONL file, one sample per line, with image paths relative to the file:

    {"id": "count-0000042", "task": "count", "prompt": "How many shapes are in the image?",
     "images": ["images/count-0000042.png"], "answer": "5", "meta": {"level": 2, "seed": 42}}

``answer`` is always a string (the reward/scorer parses it); ``meta`` carries whatever the task's
verifier needs (scene layout, level, image size, ...) and is passed to rewards untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image


@dataclass
class Sample:
    """One problem. ``images`` are loaded PIL images (RGB) in prompt order; ``audios`` are
    1-D float32 waveforms in prompt order, at ``meta["sampling_rate"]`` (default 16000)."""

    id: str
    prompt: str
    answer: str
    images: list[Image.Image] = field(default_factory=list)
    task: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    audios: list[np.ndarray] = field(default_factory=list)
