"""ChartQA (Masry et al., 2022): human-written and machine-generated ("augmented") questions.

Layout read (source: vis-nlp/ChartQA, folder ``ChartQA Dataset/``): ``{split}/{split}_human.json``
and ``{split}/{split}_augmented.json``, each a list of ``{"imgname", "query", "label"}``, with
the chart images in ``{split}/png/<imgname>``. The path may be the repository root, the
``ChartQA Dataset`` folder, the split folder, or one of the two JSON files (then only that one).

Prompt: ``query`` as is. Category: ``human`` / ``augmented`` (papers report both and their
mean). Row ids: ``human-<index>``, ``augmented-<index>`` (the JSON has no ids).
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

KINDS = ("human", "augmented")


@BENCHMARKS.register("chartqa")
class ChartQA(Benchmark):
    name = "chartqa"
    scorer = "chartqa"
    description = "ChartQA test/val/train: {split}_human.json + {split}_augmented.json + png/"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "test", ("test", "val", "train"), self.name)
        path = existing(path)
        if path.is_file():
            files = [path]
        else:
            files = []
            for kind in KINDS:
                name = f"{split}_{kind}.json"
                candidates = [name, f"{split}/{name}", f"ChartQA Dataset/{split}/{name}"]
                files += locate(path, candidates, f"ChartQA {split} {kind} questions")
        collector = Collector(self.name, path)
        for file in files:
            kind = next((k for k in KINDS if file.stem.endswith(k)), file.stem)
            for i, (_, row) in enumerate(json_rows(file)):
                row_id = f"{kind}-{i}"
                with collector.row(row_id):
                    _add(collector, row_id, row, kind, file.parent / "png")
        return collector.result()


def _add(c: Collector, row_id: str, row: Any, kind: str, png: Path) -> None:
    imgname, query = need(row, "imgname"), need(row, "query")
    label = str(need(row, "label", (str, int, float)))
    image = image_file(imgname, [png])
    c.add(row_id, query, label, [image], {"imgname": imgname, "query": query}, kind)
