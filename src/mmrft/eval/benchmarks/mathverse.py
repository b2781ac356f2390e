"""MathVerse (Zhang et al., 2024): ``testmini`` (3,940 questions: 788 problems x 5 versions).

Layouts read (sources: ZrrSkywalker/MathVerse ``output_templates/output_testmini.json`` and
``data/testmini_text_only.json``, the Hugging Face card of AI4Math/MathVerse):

* JSON release: ``{split}.json`` (a list) with ``sample_index``, ``problem_index``,
  ``problem_version`` ("Text Dominant", ..., "Vision Only"), ``question``, ``image``
  (``images_version_1-4/image_685.png``, relative to the ``images/`` folder beside the JSON),
  ``answer`` (the letter for multi-choice), ``question_type`` (``multi-choice`` /
  ``free-form``), ``metadata``, ``query_wo`` and ``query_cot`` (the official prompts);
  ``testmini_text_only.json`` has ``image: ""`` and gives text-only samples;
* Parquet (the Hugging Face copies): ``{split}.parquet`` or ``{split}/*.parquet`` with the same
  columns and ``image`` holding the bytes.

Prompt: the official chain-of-thought prompt ``query_cot`` (the choices are already spelled out
in it), else ``query_wo``, else the question. Category: ``problem_version``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    BadRow,
    Collector,
    image_cell,
    locate,
    need,
    rows_of,
    split_name,
)


@BENCHMARKS.register("mathverse")
class MathVerse(Benchmark):
    name = "mathverse"
    scorer = "mathverse"
    description = "MathVerse testmini: testmini.json + images/, or Parquet"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "testmini", ("testmini", "testmini_text_only"), self.name)
        candidates = [f"{split}.json", f"data/{split}.json", f"{split}.parquet"]
        candidates += [f"{split}/*.parquet", f"data/{split}-*.parquet"]
        files = locate(path, candidates, f"MathVerse {split} data")
        root = files[0].parent
        collector = Collector(self.name, files[0])
        for row_id, row in rows_of(files, id_key="sample_index"):
            with collector.row(row_id):
                _add(collector, row_id, row, [root / "images", root, root.parent / "images"])
        return collector.result()


def _add(c: Collector, row_id: str, row: Any, roots: list[Path]) -> None:
    qtype = need(row, "question_type")
    if qtype not in ("multi-choice", "free-form"):
        raise BadRow(f"unknown question_type {qtype!r}")
    answer = str(need(row, "answer", (str, int, float)))
    prompt = row.get("query_cot") or row.get("query_wo") or need(row, "question")
    cell = row.get("image")
    images = [image_cell(cell, "image", roots)] if cell else []  # "" = the text-only version
    version = need(row, "problem_version")
    record = {
        "sample_index": row_id,
        "problem_index": row.get("problem_index"),
        "problem_version": version,
        "question_type": qtype,
    }
    c.add(row_id, prompt, answer, images, record, version)
