"""V* Bench (Wu & Xie, 2024): 191 high-resolution images, attribute and spatial questions.

Layouts read (sources: penghao-wu/vstar ``vstar_bench_eval.py`` and the Hugging Face dataset
craigwu/vstar_bench):

* the benchmark folders ``direct_attributes/`` and ``relative_position/``: per question an image
  and a JSON file of the same stem with ``question`` and ``options``; **the first option is the
  correct one** (the official script scores "the option ranked first is option 0");
* ``test_questions.jsonl`` beside them (read in preference when present): ``image``
  (``direct_attributes/sa_4690.jpg``), ``text`` (the question, ``(A) option`` lines and an
  instruction line), ``category``, ``question_id``, ``label`` (the correct letter).

Prompt: the question, then "A. option" lines. In the folder layout the options are shuffled
with a fixed seed per question (``vstar:<category>/<stem>``), since presenting the correct option
first would let "always A" score 100%; the gold letter follows the shuffle. Category:
``direct_attributes`` / ``relative_position``.
"""

from __future__ import annotations

import random
import re
from pathlib import Path
from typing import Any

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    IMAGE_SUFFIXES,
    LETTERS,
    BadRow,
    Collector,
    existing,
    image_file,
    jsonl_rows,
    need,
    read_json,
    with_options,
)

CATEGORIES = ("direct_attributes", "relative_position")
_OPTION = re.compile(r"^\(([A-Z])\)\s*(.*)$")


@BENCHMARKS.register("vstar")
class VStar(Benchmark):
    name = "vstar"
    scorer = "vstar"
    description = (
        "V* Bench: direct_attributes/ + relative_position/ folders or test_questions.jsonl"
    )

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        path = existing(path)
        jsonl = path if path.is_file() else path / "test_questions.jsonl"
        if jsonl.is_file():
            collector = Collector(self.name, jsonl)
            for line_id, row in jsonl_rows(jsonl):
                row_id = str(row.get("question_id", line_id)) if isinstance(row, dict) else line_id
                with collector.row(row_id):
                    _add_jsonl(collector, row_id, row, jsonl.parent)
            return collector.result()
        folders = [path / c for c in CATEGORIES if (path / c).is_dir()]
        if not folders:
            looked = ", ".join([f"{c}/" for c in CATEGORIES] + ["test_questions.jsonl"])
            raise FileNotFoundError(f"no V* Bench data under {path}; looked for: {looked}")
        collector = Collector(self.name, path)
        for folder in folders:
            for image in sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
                row_id = f"{folder.name}/{image.stem}"
                with collector.row(row_id):
                    _add_folder(collector, row_id, image, folder.name)
        return collector.result()


def _add_folder(c: Collector, row_id: str, image_path: Path, category: str) -> None:
    annotation = image_path.with_suffix(".json")
    if not annotation.is_file():
        raise BadRow(f"annotation {annotation.name} not found")
    try:
        row = read_json(annotation)
    except ValueError as e:
        raise BadRow(str(e)) from None
    question = need(row, "question")
    options = [str(o) for o in need(row, "options", list)]
    if len(options) < 2:
        raise BadRow("'options' needs at least two entries")
    order = list(range(len(options)))
    random.Random(f"vstar:{row_id}").shuffle(order)
    shown = [options[i] for i in order]
    answer = LETTERS[order.index(0)]  # options[0] is the correct one
    image = image_file(image_path.name, [image_path.parent])
    record = {"question_id": row_id, "options": shown}
    c.add(row_id, with_options(question, shown), answer, [image], record, category)


def _add_jsonl(c: Collector, row_id: str, row: Any, root: Path) -> None:
    text, label = need(row, "text"), need(row, "label").strip()
    lines = text.strip().splitlines()
    found = [(i, _OPTION.match(line.strip())) for i, line in enumerate(lines)]
    found = [(i, m) for i, m in found if m]
    if not found:
        raise BadRow("no '(A) option' lines in 'text'")
    question = "\n".join(lines[: found[0][0]]).strip()
    options = [m.group(2).strip() for _, m in found]
    if label not in LETTERS[: len(options)]:
        raise BadRow(f"label {label!r} is not one of the {len(options)} option letters")
    image = image_file(need(row, "image"), [root])
    category = row.get("category") or Path(row["image"]).parent.name
    record = {"question_id": row_id, "options": options}
    c.add(row_id, with_options(question, options), label, [image], record, category)
