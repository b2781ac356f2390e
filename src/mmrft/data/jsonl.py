"""Read and write the standard dataset format: one JSON object per line, images beside it.

Design note: a broken line must not end a training run hours in, so ``read_jsonl`` never raises
on content. Each bad line (invalid JSON, missing or mistyped field, an image that is missing or
cannot be decoded) is skipped and recorded as ``(line_number, reason)``, and one WARNING
summarises the count. Only a missing dataset file raises (FileNotFoundError), since that is a
configuration mistake rather than bad data.

Line fields: ``id``, ``prompt`` (or chat ``messages``), ``answer`` (required; a numeric
``answer`` or ``id`` is turned into a string), ``images`` (list of paths relative to the JSONL
file or absolute, inside its folder, or ``data:image/...;base64,`` URIs), ``task``, ``reward``
(a registered reward's name) and ``meta`` (an object, passed to rewards untouched). Other
top-level keys are ignored without error: put anything the verifier needs under ``meta``. The field rules live in ``mmrft.data.rows`` and are shared with
the Parquet and ``datasets`` loaders (``mmrft.data.load``).
"""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from mmrft.data.rows import BadLine, LoadResult, sample_from_row, warn_skipped
from mmrft.data.rows import decode_image as _decode  # noqa: F401 (re-export for eval loaders)
from mmrft.data.sample import Sample

T = TypeVar("T")

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def write_jsonl(samples: Iterable[Sample], path: str | Path, *, embed_images: bool = False) -> Path:
    """Write ``samples`` to ``path``, their images as PNGs to ``images/`` beside it and their
    audio clips (if any) as WAVs to ``audios/``.

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
            if sample.audios:  # 16-bit WAVs in audios/, read back at their own rate
                row["audios"] = _write_audios(sample, path.parent)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def read_jsonl(
    path: str | Path, *, allow_outside_paths: bool = False, max_pixels: int | None = None
) -> LoadResult:
    """Load every good line of ``path``; skip and record the bad ones (see the module note).

    A line whose image or audio path resolves outside ``path``'s folder is a bad line unless
    ``allow_outside_paths`` (``mmrft.data.rows``)."""
    path = Path(path)
    result = LoadResult()
    result.samples, result.skipped = read_rows(
        path,
        lambda row, _: sample_from_row(
            row, path.parent, allow_outside=allow_outside_paths, max_pixels=max_pixels
        ),
        "dataset file",
    )
    warn_skipped(logger, path, result)
    return result


def read_rows(
    path: Path, parse: Callable[[object, int], T], what: str
) -> tuple[list[T], list[tuple[int, str]]]:
    """``parse(row, line number)`` of every non-blank JSON line of ``path``; a line that is not
    JSON or that ``parse`` rejects (``BadLine``) is skipped and recorded as ``(number, reason)``.
    A missing file raises ``FileNotFoundError`` naming it as ``what``."""
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    items: list[T] = []
    skipped: list[tuple[int, str]] = []
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise BadLine(f"invalid JSON ({e.msg} at column {e.colno})") from None
                items.append(parse(row, number))
            except BadLine as e:
                skipped.append((number, f"line {number}: {e}"))
                logger.debug("%s: skipped line %d: %s", path, number, e)
    return items, skipped


def _write_audios(sample: Sample, root: Path) -> list[str]:
    """Each clip of ``sample`` as ``audios/<id>[-k].wav`` under ``root``; the relative paths."""
    from mmrft.data.audio import SAMPLING_RATE, write_wav

    rate = int(sample.meta.get("sampling_rate", SAMPLING_RATE))
    refs = []
    for k, clip in enumerate(sample.audios):
        stem = _UNSAFE.sub("_", sample.id) + (f"-{k}" if k else "")
        write_wav(root / "audios" / f"{stem}.wav", clip, rate)
        refs.append(f"audios/{stem}.wav")
    return refs
