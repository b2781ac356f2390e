"""One row of the standard format -> one ``Sample``: the field rules every loader shares.

Design note: JSONL lines, Parquet rows and ``datasets`` rows reach here as the same plain dict
(Arrow rows via ``to_pylist``), so a field means the same thing in every format and a bad row
fails with the same message. ``sample_from_row`` raises ``BadLine`` naming the field or image;
the loaders catch it, skip the row and record ``(number, reason)``.

Fields: ``id``, ``answer`` (strings; numbers are turned into strings), ``prompt`` (a string or
a list of chat messages) or ``messages`` (chat messages), ``images``, ``audios``, ``task`` and
``meta`` (an object, or a JSON string holding one). A null field counts as absent.

Images: ``images`` is a list (or one item) of a path relative to the dataset's folder or
absolute, a ``data:image/...;base64,`` URI, raw encoded bytes, or a ``{"bytes": ..., "path":
...}`` object as ``datasets.Image`` stores it (bytes win when both are set).

Audio: ``audios`` is a list (or one item) of paths to PCM WAV files, relative to the dataset's
folder or absolute. Each becomes a mono float32 waveform resampled to 16 kHz
(``mmrft.data.audio``), and ``meta["sampling_rate"]`` is set to that rate. A missing or
unreadable file fails the row like a bad image does.

A dataset is data, and data must not reach beyond itself or run code:

* an image or audio path must resolve (symlinks followed) inside the dataset's folder, so a
  downloaded file cannot make a run read ``../../.ssh/id_rsa`` or ``/etc/passwd`` and feed it to
  a model; a row that points outside fails, unless the loader is told ``allow_outside``
  (``data.allow_outside_paths: true``);
* ``reward`` (the row's own field, or ``meta["reward"]``) is a reward's name, never code: a
  ``module:function`` or ``file.py:function`` there fails the row without importing anything
  (and ``SampleRouter`` scores a sample only with a registered reward).

Chat messages (``messages``, or ``prompt`` given as a list): ``[{"role", "content"}, ...]`` where
``content`` is a string or a list of ``{"type": "text", "text": ...}`` / ``{"type": "image"}``
parts. The k-th image part, counted across the messages in order, is ``images[k]``, so their
counts must agree (a row with no image parts may still carry images). After an optional system
turn, user and assistant turns alternate, starting with a user turn. The prompt is the last
user turn; a system turn is prepended to it with a blank line. Every model family shows a
sample's images before its text, so where image parts sit between text parts is not kept.

Supervised targets (``mmrft sft`` and the cold start; ``mmrft.data.chat``): a ``response`` field
(a string, e.g. a full reasoning trace) or a final assistant turn becomes ``meta["response"]``;
a chat row also keeps its turns as text in ``meta["messages"]`` (``[{"role", "content"}]``), so
every assistant turn of a multi-turn conversation can carry loss. ``answer`` stays the
reference the reward checks.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mmrft.data.audio import SAMPLING_RATE, load_clip
from mmrft.data.sample import Sample

_DATA_URI = re.compile(r"data:image/[\w.+-]+;base64,(.*)", re.DOTALL)


class BadLine(ValueError):
    """A row that cannot become a Sample; the message names the field or file."""


@dataclass
class LoadResult:
    """What a loader loaded and what it skipped."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    """``(number, reason)``: the 1-based line of a JSONL file (reason ``"line N: ..."``) or the
    0-based row index of a Parquet file / ``datasets`` folder (reason ``"row N: ..."``)."""


def sample_from_row(
    row: Any, root: Path, *, allow_outside: bool = False, max_pixels: int | None = None
) -> Sample:
    """The ``Sample`` one row describes; image and audio paths resolve against ``root`` and must
    stay inside it unless ``allow_outside`` (see the module note).

    >>> row = {"id": 3, "answer": 7, "prompt": "2 + 5?", "response": "2 + 5 = 7. <answer>7</answer>"}
    >>> s = sample_from_row(row, Path("."))
    >>> s.id, s.prompt, s.answer, s.images, s.meta
    ('3', '2 + 5?', '7', [], {'response': '2 + 5 = 7. <answer>7</answer>'})
    """
    if not isinstance(row, dict):
        raise BadLine(f"expected a JSON object, got {type(row).__name__}")
    # A null field counts as absent: Arrow gives every row every column, null where unused.
    row = {k: v for k, v in row.items() if v is not None}
    if "id" not in row:
        raise BadLine("missing field 'id'")
    if "prompt" not in row and "messages" not in row:
        raise BadLine("missing field 'prompt' (or 'messages')")
    if "answer" not in row:
        raise BadLine("missing field 'answer'")
    if "prompt" in row and "messages" in row:
        raise BadLine("give 'prompt' or 'messages', not both")
    refs = _image_refs(row.get("images"))
    meta = _meta(row.get("meta"))
    if "messages" in row or isinstance(row["prompt"], list):
        key = "messages" if "messages" in row else "prompt"
        turns, parts = chat_turns(row[key], key)
        if parts and parts != len(refs):
            raise BadLine(f"{key!r} has {parts} image parts but the row has {len(refs)} images")
        prompt = _prompt_of(turns)
        meta = {**meta, "messages": turns}
        if turns[-1]["role"] == "assistant":
            meta["response"] = turns[-1]["content"]
    else:
        prompt = _text(row, "prompt", numbers=False)
    if "response" in row:  # a supervised target (a reasoning trace); `answer` stays the reference
        if "messages" in meta and meta["messages"][-1]["role"] == "assistant":
            raise BadLine("give 'response' or a final assistant turn, not both")
        meta = {**meta, "response": _text(row, "response", numbers=False)}
    if row.get("reward") is not None:  # the row names the reward that verifies it
        meta = {**meta, "reward": _text(row, "reward", numbers=False)}
    if "reward" in meta:
        _check_reward_name(meta["reward"])
    images = [load_image(ref, k, root, allow_outside, max_pixels) for k, ref in enumerate(refs)]
    audios = [
        load_audio(ref, k, root, allow_outside)
        for k, ref in enumerate(_audio_refs(row.get("audios")))
    ]
    if audios:  # the clips are now at this rate, whatever the files were
        meta = {**meta, "sampling_rate": SAMPLING_RATE}
    return Sample(
        id=_text(row, "id"),
        prompt=prompt,
        answer=_text(row, "answer"),
        images=images,
        task=_text(row, "task", numbers=False) if "task" in row else "",
        meta=meta,
        audios=audios,
    )


def prompt_from_messages(messages: Any, key: str = "messages") -> tuple[str, int]:
    """``(prompt text, number of image parts)`` of a chat (see the module note).

    >>> prompt_from_messages([
    ...     {"role": "system", "content": "Be brief."},
    ...     {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Count."}]},
    ...     {"role": "assistant", "content": "3"}])
    ('Be brief.\\n\\nCount.', 1)
    """
    turns, images = chat_turns(messages, key)
    return _prompt_of(turns), images


def chat_turns(messages: Any, key: str = "messages") -> tuple[list[dict[str, str]], int]:
    """The chat as text turns ``[{"role", "content"}]`` and its number of image parts; raises
    ``BadLine`` unless it is an optional system turn, then user and assistant turns alternating
    from a user turn.

    >>> chat_turns([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}])
    ([{'role': 'user', 'content': 'Hi'}, {'role': 'assistant', 'content': 'Hello'}], 0)
    """
    if not isinstance(messages, list) or not messages:
        raise BadLine(f"field {key!r} must be a non-empty list of {{role, content}} messages")
    turns, images = [], 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise BadLine(f"{key}[{i}] must be an object with 'role' and 'content'")
        text, n = _content(message["content"], f"{key}[{i}].content")
        turns.append({"role": message["role"], "content": text})
        images += n
    roles = [t["role"] for t in turns]
    chat = roles[1:] if roles[0] == "system" else roles
    alternating = all(r == ("user" if j % 2 == 0 else "assistant") for j, r in enumerate(chat))
    if not chat or not alternating:
        raise BadLine(
            f"field {key!r} must be one user turn, optionally after a system turn and before "
            f"an assistant turn (or user and assistant turns alternating); got roles {roles}"
        )
    return turns, images


def _prompt_of(turns: list[dict[str, str]]) -> str:
    """The prompt of a chat: its last user turn, after the system turn's text if any."""
    last_user = next(t["content"] for t in reversed(turns) if t["role"] == "user")
    system = turns[0]["content"] if turns[0]["role"] == "system" else ""
    return "\n\n".join(t for t in (system, last_user) if t)


def _content(content: Any, where: str) -> tuple[str, int]:
    """Text and image-part count of one message's ``content``."""
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise BadLine(f"{where} must be a string or a list of parts")
    texts, images = [], 0
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "image":
            images += 1
        elif kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        else:
            raise BadLine(
                f"{where}[{j}] must be {{'type': 'image'}} or {{'type': 'text', 'text': str}}"
            )
    return "\n".join(texts), images


def _image_refs(images: Any) -> list[Any]:
    """``images`` as a list; one bare item (path, bytes or {bytes, path}) counts as a list of one."""
    if images is None:
        return []
    if isinstance(images, (str, bytes, dict)):
        return [images]
    if isinstance(images, list):
        return images
    raise BadLine(
        "field 'images' must be a list of paths, data URIs, bytes or {bytes, path} objects, "
        f"got {type(images).__name__}"
    )


def _audio_refs(audios: Any) -> list[str]:
    """``audios`` as a list of paths; one bare path counts as a list of one."""
    if audios is None:
        return []
    if isinstance(audios, str):
        return [audios]
    if isinstance(audios, list) and all(isinstance(a, str) for a in audios):
        return audios
    raise BadLine(f"field 'audios' must be a list of WAV paths, got {type(audios).__name__}")


def _meta(meta: Any) -> dict[str, Any]:
    """``meta`` as a dict; a JSON string is decoded (Parquet/Arrow rows often store it so)."""
    if meta is None:
        return {}
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except json.JSONDecodeError as e:
            raise BadLine(f"field 'meta' is a string but not JSON ({e.msg})") from None
    if not isinstance(meta, dict):
        raise BadLine("field 'meta' must be an object")
    return meta


def _text(row: dict[str, Any], key: str, *, numbers: bool = True) -> str:
    """``row[key]`` as a string; ints and floats are accepted only where ``numbers``."""
    value = row[key]
    if isinstance(value, str):
        return value
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    raise BadLine(f"field {key!r} must be a string, got {type(value).__name__}")


def load_image(
    ref: Any, index: int, root: Path, allow_outside: bool = False, max_pixels: int | None = None
) -> Image.Image:
    """Decode one ``images`` item (path, data URI, bytes or {bytes, path}) to an RGB image,
    scaled down when far above ``max_pixels`` (``decode_image``)."""
    if isinstance(ref, dict):
        if ref.get("bytes") is not None:
            ref = ref["bytes"]
        elif ref.get("path") is not None:
            ref = ref["path"]
        else:
            raise BadLine(f"image {index} has neither 'bytes' nor 'path'")
    if isinstance(ref, bytes):
        return decode_image(io.BytesIO(ref), f"image {index} (bytes)", max_pixels)
    if not isinstance(ref, str):
        raise BadLine(f"image {index} must be a path, data URI, bytes or {{bytes, path}} object")
    match = _DATA_URI.fullmatch(ref)
    if match:
        name = f"embedded image {index}"
        try:
            data = base64.b64decode(match.group(1), validate=True)
        except (binascii.Error, ValueError):
            raise BadLine(f"{name} is not valid base64") from None
        return decode_image(io.BytesIO(data), name, max_pixels)
    name = f"image {_shown(ref)}"
    return decode_image(_file(name, root, ref, allow_outside), name, max_pixels)


def load_audio(ref: str, index: int, root: Path, allow_outside: bool = False) -> np.ndarray:
    """One ``audios`` path as a mono float32 waveform [T] at 16 kHz, or ``BadLine`` naming it."""
    name = f"audio {_shown(ref)}"
    file = _file(name, root, ref, allow_outside)
    try:
        return load_clip(file)
    except (OSError, ValueError) as e:  # read_wav names the file and the problem
        raise BadLine(f"{name} cannot be decoded ({e})") from None


def _file(name: str, root: Path, ref: str, allow_outside: bool) -> Path:
    """``root / ref`` (an absolute ``ref`` replaces ``root``) if it is a file inside ``root``
    (symlinks followed; anywhere with ``allow_outside``), else ``BadLine`` naming it."""
    file = root / ref
    try:
        real, folder = file.resolve(), root.resolve()
        if not allow_outside and not real.is_relative_to(folder):
            raise BadLine(
                f"{name} resolves to {_shown(str(real))}, outside the dataset's folder "
                f"{str(folder)!r} (set data.allow_outside_paths: true to allow files outside it)"
            )
        if not file.is_file():
            raise BadLine(f"{name} not found")
    except BadLine:
        raise
    except (OSError, RuntimeError, ValueError) as e:  # a symlink loop, a name too long, a NUL
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise BadLine(f"{name} cannot be opened ({why})") from None
    return file


def _shown(ref: str, limit: int = 120) -> str:
    """``repr(ref)``, cut to ``limit`` characters so a hostile path cannot flood the log."""
    return repr(ref) if len(ref) <= limit else f"{ref[:limit]!r}... ({len(ref)} characters)"


def _check_reward_name(name: Any) -> None:
    """A row may name a reward, never code: ``module:function`` / ``file.py:function`` (what
    ``mmrft.rewards.resolve_reward`` would import) fails the row. Whether a plain name is
    registered is checked where it is scored (``SampleRouter``): this layer sits below the
    rewards."""
    if not isinstance(name, str) or any(c in name for c in ":/\\") or name.endswith(".py"):
        shown = _shown(name) if isinstance(name, str) else f"a {type(name).__name__}"
        raise BadLine(
            f"field 'reward': {shown} is not a reward name; a dataset may name only registered "
            "rewards (custom reward code comes from rl.reward in the config or on the command "
            "line, never from data)"
        )


def decode_image(
    source: io.BytesIO | Path, name: str, max_pixels: int | None = None
) -> Image.Image:
    """Fully decode ``source`` to RGB, or raise ``BadLine`` naming ``name``.

    ``max_pixels``: the model's pixel budget. An image with more than ``DECODE_HEADROOM`` times
    that many pixels is scaled down right here (JPEGs already while decoding), so a dataset of
    9000 x 9000 photos never holds them at full size; the exact model-side resize happens
    later, from an image still at least twice the target's side.
    """
    try:
        with Image.open(source) as image:
            cap = None if max_pixels is None else DECODE_HEADROOM * max_pixels
            if cap is not None and image.width * image.height > cap:
                image.draft("RGB", _fit(image.size, cap))  # JPEG: decode at 1/2, 1/4, 1/8 size
            image.load()  # PIL opens lazily; force the decode here so truncation is caught
            rgb = image.convert("RGB")
    except Exception as e:  # PIL raises many types (OSError, SyntaxError, ValueError, ...)
        raise BadLine(f"{name} cannot be decoded ({type(e).__name__})") from None
    if cap is not None and rgb.width * rgb.height > cap:
        rgb = rgb.resize(_fit(rgb.size, cap), Image.Resampling.BICUBIC)
    return rgb


# Images are kept at up to this many times the model's pixel budget after decoding.
DECODE_HEADROOM = 4


def _fit(size: tuple[int, int], max_pixels: int) -> tuple[int, int]:
    """``size`` scaled down, aspect ratio kept, to at most ``max_pixels`` pixels.

    >>> _fit((9000, 9000), 4 * 112 * 112)
    (224, 224)
    """
    w, h = size
    scale = min(1.0, (max_pixels / (w * h)) ** 0.5)
    return max(1, int(w * scale)), max(1, int(h * scale))


def warn_skipped(logger: logging.Logger, path: Path, result: LoadResult) -> None:
    """One WARNING summarising ``result.skipped`` (the first five reasons), if any."""
    if not result.skipped:
        return
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
