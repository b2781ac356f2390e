"""MATH-Vision (Wang et al., 2024): ``test`` (3,040 questions) and ``testmini`` (304).

Layouts read (sources: mathllm/MATH-V ``data/testmini.jsonl`` and ``evaluation/evaluate.py``,
the Hugging Face dataset MathLLMs/MathVision):

* GitHub: ``data/{split}.jsonl`` (or ``{split}.jsonl``), one object per line with ``id``,
  ``question`` (with ``<image1>`` placeholders), ``options`` (a list, empty for free-form),
  ``answer`` (a letter when there are options), ``image`` (``images/4.jpg``, relative to the
  repository root or the JSONL's folder), ``level``, ``subject``;
* Hugging Face Parquet: ``data/{split}-*.parquet`` with the same columns plus ``decoded_image``.

Prompt: the question, then "A. option" lines; options that are only their own letters (the
choices are drawn in the image) are written as one "Options: A, B, C, D, E" line instead.
Category: ``subject``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    LETTERS,
    BadRow,
    Collector,
    image_cell,
    locate,
    need,
    rows_of,
    split_name,
    with_options,
)


@BENCHMARKS.register("mathvision")
class MathVision(Benchmark):
    name = "mathvision"
    scorer = "mathvision"
    description = "MATH-Vision test/testmini: data/{split}.jsonl + images/, or HF Parquet"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "test", ("test", "testmini"), self.name)
        candidates = [f"data/{split}.jsonl", f"{split}.jsonl", f"data/{split}-*.parquet"]
        candidates += [f"{split}-*.parquet", f"{split}.parquet"]
        files = locate(path, candidates, f"MATH-Vision {split} data")
        roots = [files[0].parent, files[0].parent.parent]
        collector = Collector(self.name, files[0])
        for row_id, row in rows_of(files, id_key="id"):
            with collector.row(row_id):
                _add(collector, row_id, row, roots)
        return collector.result()


def _add(c: Collector, row_id: str, row: Any, roots: list[Path]) -> None:
    question = need(row, "question")
    options = [str(o) for o in need(row, "options", list)]
    answer = str(need(row, "answer", (str, int, float))).strip()
    if options and (len(answer) != 1 or answer not in LETTERS[: len(options)]):
        raise BadRow(f"answer {answer!r} is not one of the {len(options)} option letters")
    image = image_cell(row.get("decoded_image") or row.get("image"), "image", roots)
    if options == list(LETTERS[: len(options)]):
        prompt = f"{question}\nOptions: {', '.join(options)}"
    else:
        prompt = with_options(question, options)
    record = {"id": row_id, "options": options, "level": row.get("level")}
    subject = row.get("subject") or "unknown"
    c.add(row_id, prompt, answer, [image], {**record, "subject": subject}, subject)
