"""MME (Fu et al., 2023): 14 yes/no subtasks, two questions per image.

Layouts read:

* the official release folder ``MME_Benchmark_release_version/`` (source: the MME page in
  BradyFU/Awesome-Multimodal-Large-Language-Models and its ``eval_tool``): one folder per
  subtask, either ``images/<name>.jpg`` + ``questions_answers_YN/<name>.txt`` (artwork,
  celebrity, landmark, posters, scene) or ``<name>.jpg|png`` and ``<name>.txt`` side by side
  (the other subtasks). Each ``.txt`` line is ``question<TAB>answer`` (Yes / No). The path may
  be the release folder or one subtask folder;
* Hugging Face Parquet (lmms-lab/MME): ``data/test-*.parquet`` with ``question_id``
  (``code_reasoning/0020.png``), ``image``, ``question``, ``answer``, ``category``.

Prompt: the question as released (it already ends "Please answer yes or no."). Record fields
for the scorer: ``answer``, ``category`` (the subtask, also the breakdown key) and ``image``
(``<subtask>/<image file>``, shared by the two questions of an image, for acc+).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.benchmarks.common import (
    IMAGE_SUFFIXES,
    BadRow,
    Collector,
    existing,
    image_cell,
    image_file,
    locate,
    need,
    rows_of,
)

QA_DIR = "questions_answers_YN"


@BENCHMARKS.register("mme")
class MME(Benchmark):
    name = "mme"
    scorer = "mme"
    description = "MME: the official MME_Benchmark_release_version folder, or HF Parquet"

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        path = existing(path)
        # The release folder holds subtask folders; a subtask folder holds the questions itself.
        categories = sorted(filter(_is_category, _dirs(path)))
        if not categories and _is_category(path):
            categories = [path]
        if categories:
            collector = Collector(self.name, path)
            for folder in categories:
                _read_category(collector, folder)
            return collector.result()
        looked = f"subtask folders with {QA_DIR}/ or .txt files, "
        files = locate(path, ["data/test-*.parquet", "*.parquet"], f"MME data ({looked}Parquet)")
        collector = Collector(self.name, files[0])
        seen: Counter[str] = Counter()
        for _, row in rows_of(files):
            qid = str(row.get("question_id"))
            seen[qid] += 1
            row_id = f"{qid}#{seen[qid]}"
            with collector.row(row_id):
                image = image_cell(row.get("image"), "image")
                category = need(row, "category")
                question, answer = need(row, "question"), need(row, "answer")
                _add(collector, row_id, question, answer, image, qid, category)
        return collector.result()


def _dirs(path: Path) -> list[Path]:
    if not path.is_dir():
        return []
    # Not subtasks: a subtask's own folders, the release's scoring tool, archive debris.
    skip = ("images", QA_DIR, "eval_tool", "__MACOSX")
    return [p for p in path.iterdir() if p.is_dir() and p.name not in skip and p.name[0] != "."]


def _is_category(folder: Path) -> bool:
    return folder.is_dir() and ((folder / QA_DIR).is_dir() or any(folder.glob("*.txt")))


def _read_category(c: Collector, folder: Path) -> None:
    split_layout = (folder / QA_DIR).is_dir()
    txt_dir = folder / QA_DIR if split_layout else folder
    image_dir = folder / "images" if split_layout else folder
    for txt in sorted(txt_dir.glob("*.txt")):
        lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
        image = None  # decoded once, shared by the questions of this image
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            row_id = f"{folder.name}/{txt.name}:{number}"
            with c.row(row_id):
                parts = line.rstrip("\r\n").split("\t")
                if len(parts) != 2:
                    raise BadRow(f"expected 'question<TAB>answer', got {len(parts)} field(s)")
                name = _image_name(image_dir, txt.stem)
                image = image or image_file(name, [image_dir])
                key = f"{folder.name}/{name}"
                _add(c, row_id, parts[0].strip(), parts[1], image, key, folder.name)


def _image_name(image_dir: Path, stem: str) -> str:
    for suffix in IMAGE_SUFFIXES:
        if (image_dir / f"{stem}{suffix}").is_file():
            return f"{stem}{suffix}"
    raise BadRow(f"no image {stem}.* in {image_dir}")


def _add(
    c: Collector, row_id: str, question: str, answer: str, image: Any, key: str, category: str
) -> None:
    answer = answer.strip()
    if answer.lower() not in ("yes", "no"):
        raise BadRow(f"answer {answer!r} is not Yes/No")
    record = {"question_id": key, "image": key, "category": category}
    c.add(row_id, question, answer, [image], record, category)
