"""MME-Reasoning (Yuan et al., 2025): 1,188 inductive / deductive / abductive questions.

Layouts read (source: Alpha-Innovator/MME-Reasoning, ``vlmeval/dataset/mmereasoning/`` and its
README; the VLMEvalKit integration ships ``MME_Reasoning.tsv``):

* a TSV file (``MME_Reasoning.tsv``, or any ``*.tsv`` in the folder), one row per question;
* the same table as JSON (a list of objects), JSONL, or Parquet (``data/*.parquet`` too).

Columns: ``index``, ``question``, ``answer`` (text or a Python-literal string; may be empty for
puzzles checked by a validator), ``question_type`` (``choice`` / ``open`` / ...),
``function_id`` and ``prompt_id`` (the scoring rule and judge prompt; empty for plain choice /
open questions), ``special_info`` (a literal dict for the puzzle validators), ``capability``,
``reasoning_type``, ``difficulty``. Images, one or several per question, in either column:

* ``image``: base64 (VLMEvalKit's TSV), a Parquet Image struct / bytes, a path, or a list of
  these (a list or its string form ``"['...', '...']"``, read as a literal, never executed);
* ``image_path``: file name(s) under the data folder, ``images/``, ``images/MMEReasoning/`` or
  ``MMEReasoning/images/`` (the official release's ``$LMUData/images/MMEReasoning``).

Prompt: the question as released (the official ``build_prompt``: the images, then the text).
Category (the runner's per-category table): ``reasoning_type``; the scorer adds capability and
difficulty tables. A row with no question, no question_type or an image that is missing or
unreadable is skipped with its reason.
"""

from __future__ import annotations

import ast
import base64
import binascii
import csv
import dataclasses
from pathlib import Path
from typing import Any

from PIL import Image

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    BadRow,
    Collector,
    image_bytes,
    image_cell,
    locate,
    need,
    rows_of,
)

CANDIDATES = (
    "MME_Reasoning.tsv",
    "MMEReasoning.tsv",
    "*.tsv",
    "data/*.parquet",
    "*.parquet",
    "*.jsonl",
    "*.json",
)
FIELDS = (
    "index",
    "question",
    "question_type",
    "function_id",
    "prompt_id",
    "special_info",
    "capability",
    "reasoning_type",
    "difficulty",
)
"""Record fields kept for the scorer (plus ``answer``)."""
MAX_PATH_CHARS = 255
"""Image cells up to this long are first looked up as file names (a longer one is base64)."""


@BENCHMARKS.register("mme-reasoning")
class MMEReasoningBench(Benchmark):
    name = "mme-reasoning"
    scorer = "mme_reasoning"
    description = "MME-Reasoning: MME_Reasoning.tsv (VLMEvalKit), or the table as JSON/Parquet"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        files = locate(path, CANDIDATES, "MME-Reasoning data (TSV, Parquet, JSON)")
        folder = files[0].parent
        roots = [folder, folder / "images", folder / "images" / "MMEReasoning"]
        roots += [folder / "MMEReasoning" / "images", folder.parent]
        collector = Collector(self.name, files[0])
        for row_id, row in _rows(files):
            with collector.row(row_id):
                _add(collector, row_id, row, roots)
        return collector.result()


def _rows(files: list[Path]) -> Any:
    for path in files:
        if path.suffix.lower() == ".tsv":
            yield from _tsv_rows(path)
        else:
            yield from ((_row_id(r, rid), r) for rid, r in rows_of([path]))


def _tsv_rows(path: Path) -> Any:
    csv.field_size_limit(2**31 - 1)  # base64 image cells are megabytes long (C long on Windows)
    with path.open(encoding="utf-8", newline="") as f:
        for number, row in enumerate(csv.DictReader(f, delimiter="\t"), start=2):
            yield _row_id(row, f"{path.name}:{number}"), row


def _row_id(row: Any, fallback: str) -> str:
    if isinstance(row, dict) and not _blank(row.get("index")):
        return str(row["index"])
    return fallback


def _blank(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and value != value)


def _add(c: Collector, row_id: str, row: Any, roots: list[Path]) -> None:
    question = need(row, "question")
    need(row, "question_type")
    images = _images(row, roots)
    record = {k: (None if _blank(row.get(k)) else row.get(k)) for k in FIELDS}
    record["index"] = record["index"] if record["index"] is not None else row_id
    answer = None if _blank(row.get("answer")) else row.get("answer")
    category = str(record["reasoning_type"] or "unknown")
    c.add(row_id, question, answer, images, record, category)
    if answer is None:  # a validator-checked puzzle: no answer text on the Sample either
        c.data.samples[-1] = dataclasses.replace(c.data.samples[-1], answer="")


def _images(row: dict[str, Any], roots: list[Path]) -> list[Image.Image]:
    cell = row.get("image")
    name = "image"
    if _blank(cell) or cell == []:
        cell, name = row.get("image_path"), "image_path"
    if _blank(cell) or cell == []:
        raise BadRow("no image (columns 'image' and 'image_path' are empty)")
    items = _as_list(cell)
    if not items:
        raise BadRow(f"{name} is an empty list")
    return [_one_image(item, f"{name}[{i}]", roots) for i, item in enumerate(items)]


def _as_list(cell: Any) -> list[Any]:
    if isinstance(cell, list | tuple):
        return list(cell)
    if isinstance(cell, str) and cell.strip().startswith("[") and cell.strip().endswith("]"):
        try:
            value = ast.literal_eval(cell.strip())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise BadRow("image cell looks like a list but is not a literal") from None
        return list(value) if isinstance(value, list | tuple) else [value]
    return [cell]


def _one_image(item: Any, name: str, roots: list[Path]) -> Image.Image:
    """A file name found under ``roots``, else base64 text, else a Parquet Image struct or raw
    bytes; BadRow naming the cell otherwise."""
    if not isinstance(item, str):
        return image_cell(item, name, roots)
    text = item.strip()
    if len(text) <= MAX_PATH_CHARS and any(_is_file(root / text) for root in roots):
        return image_cell(text, name, roots)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        looked = ", ".join(map(str, roots))
        raise BadRow(f"{name} {text[:60]!r} not found (looked in {looked})") from None
    return image_bytes(data, f"{name} (base64)")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # a name the file system rejects (too long) is no file
        return False
