"""Counting on CLEVR-style scenes: the integer-answer questions of CLEVR, or your own JSONL.

Layouts read:

* CLEVR v1.0 (source: the CLEVR download, ``CLEVR_v1.0/``): ``questions/CLEVR_{split}_questions
  .json`` = ``{"info": ..., "questions": [{"image_filename", "question", "answer",
  "question_family_index", ...}]}`` with images in ``images/{split}/``. Default split ``val``
  (the test split has no answers). Only questions whose answer is an integer are kept (CLEVR's
  ``count`` programs); the others are not counting questions and are left out without being
  reported as skipped;
* a JSONL file: either mmrft's own dataset format (lines with ``prompt``; see
  ``mmrft.data.jsonl``) or one CLEVR-style question per line (``image_filename`` or ``image``,
  ``question``, ``answer``) with images relative to the file (or in ``images/`` beside it). Here
  a non-integer answer is a bad row (skipped and reported).

Prompt: the question as is. Category: the gold count, e.g. ``"3"`` (accuracy by count size).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from mmrft.data.jsonl import read_jsonl
from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    BadRow,
    Collector,
    image_file,
    jsonl_rows,
    locate,
    need,
    read_json,
    split_name,
)

logger = logging.getLogger(__name__)


@BENCHMARKS.register("count")
class Count(Benchmark):
    name = "count"
    scorer = "count"
    description = "CLEVR counting: questions/CLEVR_{split}_questions.json + images/, or JSONL"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "val", ("val", "train", "test"), self.name)
        name = f"CLEVR_{split}_questions.json"
        candidates = [f"questions/{name}", name, f"CLEVR_v1.0/questions/{name}"]
        (file,) = locate(path, candidates, f"CLEVR {split} questions")
        if file.suffix == ".jsonl":
            return _load_jsonl(file)
        collector = Collector(self.name, file)
        data = read_json(file)
        questions = data.get("questions") if isinstance(data, dict) else None
        if not isinstance(questions, list):
            raise ValueError(f"{file}: expected {{'questions': [...]}}")
        roots = [file.parent.parent / "images" / split, file.parent / "images" / split]
        kept = [q for q in questions if isinstance(q, dict) and _integer(q.get("answer"))]
        logger.info("%s: %d of %d questions have integer answers", file, len(kept), len(questions))
        for i, row in enumerate(kept):
            row_id = f"{split}-{row.get('question_index', i)}"
            with collector.row(row_id):
                _add(collector, row_id, row, roots)
        return collector.result()


def _load_jsonl(file: Path) -> BenchmarkData:
    collector = Collector("count", file)
    if _is_mmrft_format(file):
        loaded = read_jsonl(file)
        for number, reason in loaded.skipped:
            collector.data.skipped.append((f"{file.name}:{number}", reason))
        for s in loaded.samples:
            with collector.row(s.id):
                if not _integer(s.answer):
                    raise BadRow(f"answer {s.answer!r} is not an integer count")
                collector.add(s.id, s.prompt, s.answer, s.images, {"id": s.id}, s.answer.strip())
        return collector.result()
    roots = [file.parent, file.parent / "images"]
    for row_id, row in jsonl_rows(file):
        with collector.row(row_id):
            _add(collector, row_id, row, roots)
    return collector.result()


def _add(c: Collector, row_id: str, row: Any, roots: list[Path]) -> None:
    question = need(row, "question")
    answer = str(need(row, "answer", (str, int))).strip()
    if not _integer(answer):
        raise BadRow(f"answer {answer!r} is not an integer count")
    ref = row.get("image_filename") or need(row, "image")
    image = image_file(ref, roots)
    record = {"image_filename": ref, "question": question}
    c.add(row_id, question, answer, [image], record, answer)


def _integer(value: Any) -> bool:
    text = str(value).strip()
    return text.isdigit() if not isinstance(value, bool) else False


def _is_mmrft_format(file: Path) -> bool:
    """mmrft's own JSONL has a ``prompt`` on every line (peek at the first one)."""
    with file.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.strip():
                try:
                    first = json.loads(line)
                except json.JSONDecodeError:
                    return False
                return isinstance(first, dict) and "prompt" in first
    return False
