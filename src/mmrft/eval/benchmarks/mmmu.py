"""MMMU (Yue et al., 2024): 30 subjects, splits ``dev``, ``validation`` (answers public), ``test``.

Layout read (source: the Hugging Face dataset MMMU/MMMU and MMMU-Benchmark/MMMU
``eval/data_utils.py``): one folder per subject, ``<Subject>/{split}-*.parquet``, with columns
``id`` (``validation_Art_Theory_12``), ``question``, ``options`` (the string form of a list,
``"['a', 'b']"``), ``answer`` (a letter for multiple-choice), ``question_type``
(``multiple-choice`` / ``open``), ``image_1`` .. ``image_7`` (Image structs with bytes; unused
ones null). Also read: one subject folder, a single Parquet file, or an all-subjects
``data/{split}-*.parquet`` (lmms-lab/MMMU); the subject then comes from the id.

Prompt: the question, then "A. option" lines for multiple-choice. ``<image N>`` placeholders are
kept verbatim in the text; the images are given in column order (image_1, image_2, ...), and a
row whose text names an image column that is empty is skipped. Category: the subject. The test
split hides its answers ("?"), so its rows are skipped. An open answer written as a list
(``"['1', '2']"``) becomes that list (any element counts, as in the official scorer).
"""

from __future__ import annotations

import ast
import re
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
    with_options,
)

N_IMAGES = 7
_PLACEHOLDER = re.compile(r"<image (\d+)>")


@BENCHMARKS.register("mmmu")
class MMMU(Benchmark):
    name = "mmmu"
    scorer = "mmmu"
    description = "MMMU dev/validation/test: HF Parquet, one folder per subject"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        split = split_name(split, "validation", ("dev", "validation", "test"), self.name)
        candidates = [f"*/{split}-*.parquet", f"{split}-*.parquet", f"data/{split}-*.parquet"]
        files = locate(path, candidates, f"MMMU {split} Parquet files")
        collector = Collector(self.name, files[0])
        for file in files:
            for row_id, row in rows_of([file], id_key="id"):
                with collector.row(row_id):
                    _add(collector, row_id, row, file.parent.name)
        return collector.result()


def _add(c: Collector, row_id: str, row: Any, folder: str) -> None:
    question, qtype = need(row, "question"), need(row, "question_type")
    answer = need(row, "answer")
    if answer.strip() == "?":
        raise BadRow("answer hidden ('?'): the test split has no public answers")
    options = _parse_list(need(row, "options", (str, list)), "options")
    if qtype == "multiple-choice" and not options:
        raise BadRow("multiple-choice question without options")
    if qtype != "multiple-choice" and answer.startswith("["):
        answer = _parse_list(answer, "answer")
    prompt = with_options(question, options) if qtype == "multiple-choice" else question
    for n in sorted({int(n) for n in _PLACEHOLDER.findall(prompt)}):
        if not 1 <= n <= N_IMAGES or not row.get(f"image_{n}"):
            raise BadRow(f"text names <image {n}> but column 'image_{n}' is empty")
    images = [
        image_cell(row[f"image_{k}"], f"column 'image_{k}'")
        for k in range(1, N_IMAGES + 1)
        if row.get(f"image_{k}")
    ]
    record = {"id": row_id, "question_type": qtype, "options": options}
    c.add(row_id, prompt, answer, images, record, _subject(row_id, folder))


def _parse_list(value: str | list, field: str) -> list[str]:
    if isinstance(value, str):
        try:
            value = ast.literal_eval(value) if value.strip() else []
        except (ValueError, SyntaxError):
            raise BadRow(f"field {field!r} is not a list literal: {value[:40]!r}") from None
    if not isinstance(value, list):
        raise BadRow(f"field {field!r} is not a list")
    return [str(v) for v in value]


def _subject(row_id: str, folder: str) -> str:
    """``validation_Art_Theory_12`` -> ``Art_Theory``; the folder name when the id differs."""
    m = re.fullmatch(r"(?:dev|validation|test)_(.+)_\d+", row_id)
    return m.group(1) if m else folder
