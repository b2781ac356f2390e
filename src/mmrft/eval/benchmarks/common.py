"""Helpers shared by the benchmark loaders: finding files, reading rows, decoding images, prompts.

Design note. Every loader has the same shape: find the files of one official layout under the
user's path, turn each row into a ``Sample``, and skip (never raise on) a bad row. The pieces
that repeat live here so a loader reads as "which files, which fields, which prompt":

* :func:`locate` picks the files of the first candidate layout that exists and otherwise raises
  FileNotFoundError listing every candidate it tried, so a wrong folder is a one-line fix;
* :func:`json_rows`, :func:`jsonl_rows`, :func:`parquet_rows` yield ``(row_id, row)`` pairs;
  a line that is not JSON comes out as a :class:`BadRow` to be skipped with its line number;
* :func:`need` reads a field or raises :class:`BadRow` naming it; the image helpers raise
  :class:`BadRow` naming the file or column;
* :class:`Collector` turns ``BadRow`` into ``(row_id, reason)`` entries and logs one WARNING.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image

# The JSONL reader's decode step (load now, convert to RGB), so a broken image fails the same way.
from mmrft.data.jsonl import BadLine, _decode
from mmrft.data.sample import Sample
from mmrft.eval.benchmarks.base import BenchmarkData

logger = logging.getLogger(__name__)

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class BadRow(ValueError):
    """A row that cannot become a Sample; the message names the field, column or file."""


# --------------------------------------------------------------------------- finding files


def existing(path: str | Path) -> Path:
    """``path`` as a Path; FileNotFoundError naming it when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"benchmark path not found: {path}")
    return path


def locate(path: str | Path, candidates: Iterable[str], what: str) -> list[Path]:
    """The data files at ``path``: the file itself, or under a folder the files matching the
    first of ``candidates`` (globs relative to it) that matches anything (all Parquet shards).

    Raises FileNotFoundError naming a missing path, or listing every candidate it tried, e.g.
    "no MathVista testmini data under /d; looked for: data/testmini-*.parquet, testmini.json".
    """
    path = existing(path)
    if path.is_file():
        return [path]
    tried = list(candidates)
    for pattern in tried:
        hits = sorted(p for p in path.glob(pattern) if p.is_file())
        if hits:
            return hits
    raise FileNotFoundError(f"no {what} under {path}; looked for: {', '.join(tried)}")


# --------------------------------------------------------------------------- reading rows


def read_json(path: Path) -> Any:
    """A whole JSON file; a file that is not JSON is a configuration error (ValueError)."""
    try:
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})") from None


def json_rows(path: Path, *, id_key: str | None = None) -> Iterator[tuple[str, Any]]:
    """Rows of a JSON list (``row_id`` = ``row[id_key]`` or ``"<file>[i]"``) or dict (its keys)."""
    data = read_json(path)
    if isinstance(data, dict):
        yield from ((str(k), v) for k, v in data.items())
    elif isinstance(data, list):
        for i, row in enumerate(data):
            key = row.get(id_key) if id_key and isinstance(row, dict) else None
            yield (str(key) if key is not None else f"{path.name}[{i}]"), row
    else:
        raise ValueError(f"{path}: expected a JSON list or object, got {type(data).__name__}")


def jsonl_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """``("<file>:<line>", row)`` per non-empty line; an invalid line yields a BadRow."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            row_id = f"{path.name}:{number}"
            try:
                yield row_id, json.loads(line)
            except json.JSONDecodeError as e:
                yield row_id, BadRow(f"invalid JSON ({e.msg} at column {e.colno})")


def parquet_rows(paths: Iterable[Path], *, columns: list[str] | None = None) -> Iterator[dict]:
    """Rows of Parquet files as dicts, a batch at a time (images stay compressed until used).

    An Image column of a Hugging Face dataset is a struct ``{"bytes": ..., "path": ...}``.
    """
    try:
        import pyarrow.parquet as pq
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from e
    for path in paths:
        file = pq.ParquetFile(path)
        names = set(file.schema_arrow.names)
        cols = [c for c in columns if c in names] if columns else None
        for batch in file.iter_batches(batch_size=64, columns=cols):
            yield from batch.to_pylist()


def rows_of(files: list[Path], *, id_key: str | None = None) -> Iterator[tuple[str, Any]]:
    """``(row_id, row)`` from Parquet, JSON or JSONL files, by suffix; ``row_id`` is
    ``row[id_key]`` where present, else the file name with the row's index or line."""
    for path in files:
        if path.suffix == ".parquet":
            for i, row in enumerate(parquet_rows([path])):
                key = row.get(id_key) if id_key else None
                yield (str(key) if key is not None else f"{path.name}[{i}]"), row
        elif path.suffix == ".jsonl":
            for row_id, row in jsonl_rows(path):
                key = row.get(id_key) if id_key and isinstance(row, dict) else None
                yield (str(key) if key is not None else row_id), row
        else:
            yield from json_rows(path, id_key=id_key)


def need(row: Any, key: str, kind: type | tuple[type, ...] = str) -> Any:
    """``row[key]`` checked against ``kind``; BadRow naming the field otherwise."""
    if isinstance(row, BadRow):
        raise row
    if not isinstance(row, dict):
        raise BadRow(f"expected an object, got {type(row).__name__}")
    if key not in row or row[key] is None:
        raise BadRow(f"missing field {key!r}")
    value = row[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise BadRow(f"field {key!r} has type {type(value).__name__}")
    return value


# --------------------------------------------------------------------------- images


def image_file(ref: str, roots: Iterable[Path]) -> Image.Image:
    """The image at ``ref`` under the first root that has it (RGB, decoded now)."""
    roots = list(dict.fromkeys(roots))
    for root in roots:
        file = root / ref  # an absolute ``ref`` replaces ``root``
        if file.is_file():
            return _as_row_error(lambda f=file: _decode(f, f"image {ref!r}"))
    raise BadRow(f"image {ref!r} not found (looked in {', '.join(map(str, roots))})")


def image_bytes(data: bytes, name: str) -> Image.Image:
    """Decode compressed image bytes (RGB); BadRow naming ``name`` when they are not an image."""
    return _as_row_error(lambda: _decode(io.BytesIO(data), name))


def image_cell(cell: Any, name: str, roots: Iterable[Path] = ()) -> Image.Image:
    """A Hugging Face Image cell (``{"bytes", "path"}``), raw bytes, or a path string."""
    if isinstance(cell, dict):
        if cell.get("bytes"):
            return image_bytes(cell["bytes"], name)
        if cell.get("path"):
            return image_file(cell["path"], roots)
    elif isinstance(cell, bytes | bytearray) and cell:
        return image_bytes(bytes(cell), name)
    elif isinstance(cell, str) and cell:
        return image_file(cell, roots)
    raise BadRow(f"{name} is empty")


def _as_row_error(fn: Any) -> Image.Image:
    try:
        return fn()
    except BadLine as e:
        raise BadRow(str(e)) from None


def image_size(image: Image.Image) -> list[int]:
    """``[width, height]``, the order the grounding scorers read."""
    return [image.width, image.height]


# --------------------------------------------------------------------------- prompts


def option_lines(options: list[str]) -> str:
    """Options as ``"A. text"`` lines.

    >>> print(option_lines(["red", "blue"]))
    A. red
    B. blue
    """
    if len(options) > len(LETTERS):
        raise BadRow(f"{len(options)} options; at most {len(LETTERS)} can be lettered")
    return "\n".join(f"{LETTERS[i]}. {option}" for i, option in enumerate(options))


def with_options(question: str, options: list[str]) -> str:
    """The mmrft multiple-choice prompt: the question, then one ``"A. text"`` line per option."""
    return f"{question}\n{option_lines(options)}" if options else question


# --------------------------------------------------------------------------- collecting


class Collector:
    """Accumulates samples; ``with collector.row(row_id):`` skips a row that raises BadRow."""

    def __init__(self, benchmark: str, source: Path) -> None:
        self.benchmark = benchmark
        self.source = source
        self.data = BenchmarkData()

    @contextmanager
    def row(self, row_id: str) -> Iterator[None]:
        try:
            yield
        except BadRow as e:
            reason = f"{row_id}: {e}"
            self.data.skipped.append((row_id, reason))
            logger.debug("%s: skipped %s", self.source, reason)

    def add(
        self,
        row_id: str,
        prompt: str,
        answer: Any,
        images: list[Image.Image],
        record: dict[str, Any],
        category: str,
    ) -> None:
        """One Sample; ``answer`` keeps its type in the record and becomes a string on the Sample."""
        text = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        meta = {"record": {**record, "answer": answer}, "category": category}
        sample = Sample(row_id, prompt, text, images, task=self.benchmark, meta=meta)
        self.data.samples.append(sample)

    def result(self) -> BenchmarkData:
        """The data read; one WARNING summarises what was skipped."""
        skipped = self.data.skipped
        if skipped:
            shown = "; ".join(reason for _, reason in skipped[:5])
            more = f" (+{len(skipped) - 5} more)" if len(skipped) > 5 else ""
            total = len(skipped) + len(self.data.samples)
            name = f"{self.benchmark} {self.source}"
            logger.warning(
                "%s: skipped %d of %d rows: %s%s", name, len(skipped), total, shown, more
            )
        return self.data


def split_name(split: str | None, default: str, known: Iterable[str], benchmark: str) -> str:
    """``split`` (or ``default``) checked against the benchmark's splits."""
    split = split or default
    known = list(known)
    if split not in known:
        raise ValueError(f"unknown {benchmark} split {split!r}; known: {known}")
    return split
