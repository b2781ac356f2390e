"""MathVista (Lu et al., 2024): ``testmini`` (1,000 questions with answers) and ``test``.

Layouts read (sources: the Hugging Face card of AI4Math/MathVista and lupantech/MathVista
``data/testmini.json``):

* Hugging Face Parquet: ``data/{split}-*.parquet`` (or one ``.parquet`` file) with columns
  ``pid``, ``question``, ``decoded_image`` (image bytes), ``image`` (its relative path),
  ``choices``, ``precision``, ``answer``, ``question_type``, ``answer_type``, ``unit``,
  ``metadata`` and ``query`` (the official prompt);
* GitHub release: ``{split}.json`` (or ``data/{split}.json``), an object keyed by pid whose values
  carry the same fields minus ``query``/``decoded_image``, with ``image: "images/1.jpg"``
  relative to the JSON file. The official prompts then come from ``query.json`` beside it when
  present, else the mmrft template (question, then "A. choice" lines).

Category: ``metadata["task"]`` (figure QA, geometry problem solving, math word problem, ...).
The ``test`` split ships without answers, so its rows are skipped (missing or empty ``answer``).
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
    read_json,
    rows_of,
    split_name,
    with_options,
)


@BENCHMARKS.register("mathvista")
class MathVista(Benchmark):
    name = "mathvista"
    scorer = "mathvista"
    description = "MathVista testmini/test: HF Parquet or the GitHub testmini.json + images/"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "testmini", ("testmini", "test"), self.name)
        candidates = [f"data/{split}-*.parquet", f"{split}-*.parquet", f"{split}.parquet"]
        candidates += [f"{split}.json", f"data/{split}.json"]
        files = locate(path, candidates, f"MathVista {split} data")
        query_file = files[0].parent / "query.json"  # GitHub layout: official prompts by pid
        queries = read_json(query_file) if query_file.is_file() else {}
        roots = [files[0].parent, files[0].parent.parent]
        collector = Collector(self.name, files[0])
        for row_id, row in rows_of(files, id_key="pid"):
            with collector.row(row_id):
                _add(collector, row_id, row, queries, roots)
        return collector.result()


def _add(c: Collector, row_id: str, row: Any, queries: dict[str, str], roots: list[Path]) -> None:
    question = need(row, "question")
    qtype, atype = need(row, "question_type"), need(row, "answer_type")
    answer = str(need(row, "answer", (str, int, float)))
    if not answer.strip():
        raise BadRow("empty 'answer' (the test split hides its answers)")
    choices = row.get("choices") or None
    if qtype == "multi_choice" and not (isinstance(choices, list) and choices):
        raise BadRow("multi_choice question without 'choices'")
    # Parquet carries the bytes in ``decoded_image``; the GitHub JSON a path in ``image``.
    cell = row.get("decoded_image") or row.get("image")
    image = image_cell(cell, "image", roots)
    prompt = row.get("query") or queries.get(row_id) or with_options(question, choices or [])
    record = {
        "pid": row_id,
        "question_type": qtype,
        "answer_type": atype,
        "choices": choices,
        "precision": row.get("precision"),
        "unit": row.get("unit"),
    }
    task = (row.get("metadata") or {}).get("task") or "unknown"
    c.add(row_id, prompt, answer, [image], record, task)
