"""Read and write the standard dataset format: one JSON object per line, images beside it.

Design note: a broken line must not end a training run hours in, so ``read_jsonl`` never raises
on content. Each bad line (invalid JSON, missing or mistyped field, an image that is missing or
cannot be decoded) is skipped and recorded as ``(line_number, reason)``, and one WARNING
summarises the count. Only a missing dataset file raises (FileNotFoundError), since that is a
configuration mistake rather than bad data.

Line fields: ``id``, ``prompt``, ``answer`` (required; a numeric ``answer`` or ``id`` is turned
into a string), ``images`` (list of paths relative to the JSONL file, absolute paths, or
``data:image/...;base64,`` URIs), ``task`` and ``meta`` (an object, passed to rewards untouched).
Other top-level keys are ignored without error: put anything the verifier needs under ``meta``.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from mmrft.data.sample import Sample

logger = logging.getLogger(__name__)

REQUIRED = ("id", "prompt", "answer")
_DATA_URI = re.compile(r"data:image/[\w.+-]+;base64,(.*)", re.DOTALL)
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class BadLine(ValueError):
    """A line that cannot become a Sample; the message names the field or file."""


@dataclass
class LoadResult:
    """What ``read_jsonl`` loaded and what it skipped."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    """``(line_number, reason)``, 1-based; the reason starts with ``"line N: "``."""


def write_jsonl(samples: Iterable[Sample], path: str | Path, *, embed_images: bool = False) -> Path:
    """Write ``samples`` to ``path`` and their images as PNGs to ``images/`` beside it.

    Image files are named from the sample id (``<id>.png``, then ``<id>-1.png``, ... for further
    images); ids must be unique. With ``embed_images`` the PNGs go inline as data URIs instead.
    Returns the path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_dir = path.parent / "images"
    seen: set[str] = set()
    with path.open("w", encoding="utf-8") as f:
        for sample in samples:
            if sample.id in seen:
                raise ValueError(f"duplicate sample id {sample.id!r}; image files are named by id")
            seen.add(sample.id)
            refs = []
            for k, image in enumerate(sample.images):
                if embed_images:
                    buf = io.BytesIO()
                    image.save(buf, format="PNG")
                    refs.append(
                        "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
                    )
                    continue
                stem = _UNSAFE.sub("_", sample.id) + (f"-{k}" if k else "")
                image_dir.mkdir(exist_ok=True)
                image.save(image_dir / f"{stem}.png", format="PNG")
                refs.append(f"images/{stem}.png")
            row = {
                "id": sample.id,
                "task": sample.task,
                "prompt": sample.prompt,
                "images": refs,
                "answer": sample.answer,
                "meta": sample.meta,
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path: str | Path) -> LoadResult:
    """Load every good line of ``path``; skip and record the bad ones (see the module note)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    result = LoadResult()
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                result.samples.append(_parse_line(line, path.parent))
            except BadLine as e:
                reason = f"line {number}: {e}"
                result.skipped.append((number, reason))
                logger.debug("%s: skipped %s", path, reason)
    if result.skipped:
        shown = "; ".join(reason for _, reason in result.skipped[:5])
        more = f" (+{len(result.skipped) - 5} more)" if len(result.skipped) > 5 else ""
        logger.warning(
            "%s: skipped %d of %d samples: %s%s",
            path,
            len(result.skipped),
            len(result.skipped) + len(result.samples),
            shown,
            more,
        )
    return result


def _parse_line(line: str, root: Path) -> Sample:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadLine(f"invalid JSON ({e.msg} at column {e.colno})") from None
    if not isinstance(row, dict):
        raise BadLine(f"expected a JSON object, got {type(row).__name__}")
    for key in REQUIRED:
        if key not in row:
            raise BadLine(f"missing field {key!r}")
    images = row.get("images", [])
    meta = row.get("meta", {})
    if not isinstance(images, list) or not all(isinstance(r, str) for r in images):
        raise BadLine("field 'images' must be a list of strings")
    if not isinstance(meta, dict):
        raise BadLine("field 'meta' must be an object")
    return Sample(
        id=_text(row, "id"),
        prompt=_text(row, "prompt", numbers=False),
        answer=_text(row, "answer"),
        images=[_load_image(ref, k, root) for k, ref in enumerate(images)],
        task=_text(row, "task", numbers=False) if "task" in row else "",
        meta=meta,
    )


def _text(row: dict[str, Any], key: str, *, numbers: bool = True) -> str:
    """``row[key]`` as a string; ints and floats are accepted only where ``numbers``."""
    value = row[key]
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadLine(f"field {key!r} must be a string, got {type(value).__name__}")


def _load_image(ref: str, index: int, root: Path) -> Image.Image:
    match = _DATA_URI.fullmatch(ref)
    if match:
        name = f"embedded image {index}"
        try:
            data = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            raise BadLine(f"{name} is not valid base64") from None
        return _decode(io.BytesIO(data), name)
    file = root / ref  # an absolute ``ref`` replaces ``root``
    if not file.is_file():
        raise BadLine(f"image {ref!r} not found")
    return _decode(file, f"image {ref!r}")


def _decode(source: io.BytesIO | Path, name: str) -> Image.Image:
    try:
        with Image.open(source) as image:
            image.load()  # PIL opens lazily; force the decode here so truncation is caught
            return image.convert("RGB")
    except Exception as e:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        raise BadLine(f"{name} cannot be decoded ({type(e).__name__})") from None
