"""RefCOCO / RefCOCO+ / RefCOCOg referring-expression comprehension: one box per expression.

Layouts read:

* lmms-lab Parquet (source: the Hugging Face cards of lmms-lab/RefCOCO, RefCOCOplus, RefCOCOg):
  ``data/{split}-*.parquet`` (splits ``val``, ``test``, ``testA``, ``testB``) with columns
  ``question_id``, ``image`` (bytes), ``answer`` (the list of referring expressions for one
  object), ``bbox`` (COCO ``[x, y, w, h]`` in pixels), ``file_name``. Each expression becomes
  one sample (``<question_id>-<k>``), as in the standard per-expression protocol;
* Qwen-VL evaluation JSONL (source: QwenLM/Qwen-VL ``eval_mm/evaluate_grounding.py``):
  ``refcoco_{split}.jsonl`` (also ``refcoco+_``, ``refcocog_``), one line per expression with
  ``image`` (a COCO train2014 path), ``sent``, ``bbox`` (``[x1, y1, x2, y2]`` pixels),
  ``width``, ``height``. Images are looked up at that path, then by file name beside the JSONL,
  in ``images/`` and ``train2014/`` there.

Prompt: ``Give the bounding box of the region this sentence describes: "<expression>". Answer
with [x1, y1, x2, y2].`` The record says ``box_format: "pixel"`` (the scorer's default); a
runner evaluating a model that writes normalised boxes overrides it (docs/eval.md).
Category: the split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    BadRow,
    Collector,
    image_cell,
    image_file,
    image_size,
    locate,
    need,
    rows_of,
    split_name,
)

PROMPT = (
    'Give the bounding box of the region this sentence describes: "{}". '
    "Answer with [x1, y1, x2, y2]."
)


@BENCHMARKS.register("refcoco")
class RefCOCO(Benchmark):
    name = "refcoco"
    scorer = "refcoco"
    description = "RefCOCO/+/g REC: lmms-lab Parquet or Qwen-VL refcoco_{split}.jsonl"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "val", ("val", "test", "testA", "testB"), self.name)
        candidates = [f"data/{split}-*.parquet", f"{split}-*.parquet", f"*_{split}.jsonl"]
        files = locate(path, candidates, f"RefCOCO {split} data")
        if files[0].suffix == ".jsonl" and len(files) > 1:  # refcoco_val and refcoco+_val, ...
            names = ", ".join(f.name for f in files)
            raise ValueError(f"several RefCOCO {split} files ({names}); pass one of them")
        collector = Collector(self.name, files[0])
        for file in files:
            category = _split_of(file) or split
            for row_id, row in rows_of([file], id_key="question_id"):
                with collector.row(row_id):
                    if file.suffix == ".jsonl":
                        _add_qwen(collector, row_id, row, file.parent, category)
                    else:
                        _add_lmms(collector, row_id, row, category)
        return collector.result()


def _split_of(file: Path) -> str | None:
    """``testA-00000-of-00001.parquet`` / ``refcoco_testA.jsonl`` -> ``testA``."""
    stem = file.stem.split("-")[0] if file.suffix == ".parquet" else file.stem.split("_")[-1]
    return stem if stem in ("val", "test", "testA", "testB") else None


def _add_lmms(c: Collector, row_id: str, row: Any, split: str) -> None:
    sentences = [s for s in need(row, "answer", list) if isinstance(s, str) and s.strip()]
    if not sentences:
        raise BadRow("no referring expression in 'answer'")
    box = _box(need(row, "bbox", list))
    image = image_cell(row.get("image"), "image")
    for k, sentence in enumerate(sentences):
        record = {
            "question_id": row_id,
            "sent": sentence,
            "answer_format": "xywh",
            "box_format": "pixel",
            "image_size": image_size(image),
        }
        c.add(f"{row_id}-{k}", PROMPT.format(sentence), box, [image], record, split)


def _add_qwen(c: Collector, row_id: str, row: Any, root: Path, split: str) -> None:
    sentence, ref = need(row, "sent"), need(row, "image")
    box = _box(need(row, "bbox", list))
    roots = [root, root / "images", root / "train2014"]
    try:
        image = image_file(ref, roots)
    except BadRow as missing:
        try:  # the released JSONL holds the authors' own paths: fall back to the file name
            image = image_file(Path(ref).name, roots)
        except BadRow:
            raise missing from None
    record = {
        "image": ref,
        "sent": sentence,
        "answer_format": "xyxy",
        "box_format": "pixel",
        "image_size": image_size(image),
    }
    c.add(row_id, PROMPT.format(sentence), box, [image], record, split)


def _box(values: list) -> list[float]:
    if len(values) != 4 or not all(isinstance(v, int | float) for v in values):
        raise BadRow(f"'bbox' must be 4 numbers, got {values!r}")
    return [float(v) for v in values]
