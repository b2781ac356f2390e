"""Loaded samples made ready for one model: images kept at its pixel budget, samples it cannot
encode skipped and recorded the moment they are found.

Design note: a sample can pass loading and still be unusable for the model at hand: a 4000x2
image ("absolute aspect ratio must be smaller than 200"), a prompt longer than the model's
context. Such a sample used to stop the run, and a resumed run stopped on it again. Now the
training stream asks ``encode_screen`` before serving a dataset sample for the first time (one
extra ``family.encode`` per distinct sample per run); a sample that fails is skipped from then
on and appended to ``skipped.jsonl`` at once through ``SkipLog``, so a run that dies later still
leaves the record. ``fit_pixel_budget`` shrinks each decoded image to the size the model's
processor would resize it to anyway, so a 9000x9000 photo is not held at full size (~240 MB of
RGB) for the whole run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from mmrft.data.sample import Sample

log = logging.getLogger(__name__)


class SkipLog:
    """``skipped.jsonl``: one JSON object per skipped line or sample, appended as found.

    Entries are keyed (a load-time line number, or a sample id) and a key already in the file
    is not written again, so a resumed run that meets the same bad sample does not repeat it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.keys: set[str] = set()
        if self.path.exists():  # a resumed run: keep what the first attempt found
            for line in self.path.read_text(errors="replace").splitlines():
                try:
                    self.keys.add(_key(json.loads(line)))
                except (json.JSONDecodeError, AttributeError):
                    continue  # a half-written last line: that entry is written again if met

    def add(self, record: dict[str, Any]) -> bool:
        """Append ``record`` (it has ``line`` or ``id``, and ``reason``); False if already there."""
        key = _key(record)
        if key in self.keys:
            return False
        self.keys.add(key)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
        return True

    def count(self, field: str) -> int:
        """How many entries are keyed by ``field`` ("line": load-time, "id": encode-time)."""
        return sum(k.startswith(field + ":") for k in self.keys)


def _key(record: dict[str, Any]) -> str:
    return f"line:{record['line']}" if "line" in record else f"id:{record.get('id')}"


def encode_screen(family) -> Callable[[Sample], str | None]:
    """``screen(sample)``: None when ``family`` can encode ``sample`` alone, else the reason
    (the family's own error, which names the sample)."""

    def screen(sample: Sample) -> str | None:
        try:
            family.encode([sample])
        except ValueError as e:
            return str(e)
        return None

    return screen


def fit_pixel_budget(
    samples: list[Sample],
    resized_size: Callable[[int, int], tuple[int, int]],
    max_pixels: int | None = None,
) -> int:
    """Shrink, in place, every image larger than its model-side size; the number shrunk.

    ``resized_size(w, h)`` is the size the model's processor resizes a ``w x h`` image to (the
    family's ``resized_image_size``; identity for fixed-size families), so the processor then
    sees an image already at its target size. ``max_pixels`` (``model.max_pixels``) also caps
    the area, keeping the aspect ratio, for families without a budget of their own. Images are
    never enlarged. Box rewards read sizes from ``meta``, not from the image, so they are
    unaffected.
    """
    shrunk = 0
    for sample in samples:
        for k, image in enumerate(sample.images):
            w, h = _target(image.width, image.height, resized_size, max_pixels)
            if (w, h) != image.size:
                sample.images[k] = image.resize((w, h), Image.Resampling.BICUBIC)
                shrunk += 1
    return shrunk


def _target(
    width: int,
    height: int,
    resized_size: Callable[[int, int], tuple[int, int]],
    max_pixels: int | None,
) -> tuple[int, int]:
    """The stored size of a ``width x height`` image: smaller or equal, never larger."""
    try:
        w, h = resized_size(width, height)
    except ValueError:  # e.g. an aspect ratio the processor refuses: the screen reports it
        w, h = width, height
    if w * h >= width * height:
        w, h = width, height
    if max_pixels and w * h > max_pixels:
        scale = (max_pixels / (w * h)) ** 0.5
        w, h = max(1, int(w * scale)), max(1, int(h * scale))
    return w, h
