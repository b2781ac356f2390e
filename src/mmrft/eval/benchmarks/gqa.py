"""GQA (Hudson & Manning, 2019): compositional questions on Visual Genome images.

Layout read (source: the GQA download page, ``questions1.2.zip`` and ``images.zip``):
``{split}_balanced_questions.json`` (default split ``testdev``, the one papers report), an object
keyed by question id whose values carry ``imageId``, ``question``, ``answer``, ``fullAnswer``
and ``types`` (``structural``: verify / query / choose / logical / compare; ``semantic``;
``detailed``); the images are ``images/<imageId>.jpg``. The JSON may sit at the path, in
``questions1.2/`` or ``questions/``; ``images/`` is looked for beside the JSON and at the path.

Prompt: the question as is. Category: ``types["structural"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    Collector,
    existing,
    image_file,
    json_rows,
    locate,
    need,
    split_name,
)


@BENCHMARKS.register("gqa")
class GQA(Benchmark):
    name = "gqa"
    scorer = "gqa"
    description = "GQA: {split}_balanced_questions.json + images/"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "testdev", ("testdev", "val", "train"), self.name)
        root = existing(path)
        name = f"{split}_balanced_questions.json"
        candidates = [name, f"questions1.2/{name}", f"questions/{name}"]
        (file,) = locate(root, candidates, f"GQA {split} questions")
        base = root if root.is_dir() else file.parent
        roots = [file.parent / "images", base / "images", file.parent.parent / "images"]
        collector = Collector(self.name, file)
        for row_id, row in json_rows(file):
            with collector.row(row_id):
                _add(collector, row_id, row, roots)
        return collector.result()


def _add(c: Collector, row_id: str, row: Any, roots: list[Path]) -> None:
    question, answer = need(row, "question"), need(row, "answer")
    image_id = str(need(row, "imageId", (str, int)))
    image = image_file(f"{image_id}.jpg", roots)
    structural = (row.get("types") or {}).get("structural") or "unknown"
    record = {"question_id": row_id, "imageId": image_id, "question": question}
    c.add(row_id, question, answer, [image], record, structural)
