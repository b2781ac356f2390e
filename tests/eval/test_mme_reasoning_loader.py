"""MME-Reasoning loader on a fixture in the official TSV layout, built here.

The fixture (``write_fixture``) is shared by the other ``test_mme_reasoning*`` files: 28 rows
in VLMEvalKit's ``MME_Reasoning.tsv`` layout (base64 ``image`` column, a list string for the
multi-image rows, one row by ``image_path`` file name), covering every ``prompt_id`` and a
spread of ``function_id``s, plus two bad rows. Each row also carries, for the tests only, the
model's ``response``, what a careful judge would extract (``extract``) and its open-question
verdict, and the hand-worked expected score in each mode (``official`` with that judge,
``strict``), with the failure reason where there is one. The loader ignores the extra columns.
"""

from __future__ import annotations

import base64
import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from mmrft.eval.benchmarks import BENCHMARKS, load_benchmark

SUDOKU_BASE = "{'base_matrix': [[1, None, None, None], [None, None, 1, None], [None, 1, None, None], [None, None, None, 1]]}"  # noqa: E501
GOOD_GRID = "[[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]"
SKY_INFO = "{'base_matrix': [[None, None, None], [None, None, None], [None, None, None]], 'visible_skyscrapers': [[3, 2, 1], [3, 2, 1], [1, 2, 2], [1, 2, 2]]}"  # noqa: E501
# a 6x6 sudoku with boxes of 2 rows x 3 columns (rows, columns and boxes checked by hand)
GOOD_GRID6 = "[[1, 2, 3, 4, 5, 6], [4, 5, 6, 1, 2, 3], [2, 3, 1, 5, 6, 4], [5, 6, 4, 2, 3, 1], [3, 1, 2, 6, 4, 5], [6, 4, 5, 3, 1, 2]]"  # noqa: E501
SUDOKU6_BASE = str({"base_matrix": [[1] + [None] * 5] + [[None] * 6] * 5})
# a comb: black = row 0 + columns 0, 2, 4; white = columns 1, 3, 5 + row 5; both connected,
# and every 2x2 window mixes colours (rows 1-4 alternate)
YINYANG = str([[1] * 6] + [[1, 0, 1, 0, 1, 0]] * 4 + [[0] * 6])
YINYANG_BASE = str({"base_matrix": [[1] + [None] * 5] + [[None] * 6] * 4 + [[None] * 5 + [0]]})
HASHI_INFO = (
    "{'init_islands': [{'cord': 'a1', 'requirement': 1}, {'cord': 'a3', 'requirement': 1}]}"
)

# index, question_type, function_id, prompt_id, answer, special_info, capability,
# reasoning_type, difficulty, response, judge extraction, verdict, official, strict, failure(s)
ROWS: list[dict[str, Any]] = [
    dict(
        index=1,
        question_type="choice",
        answer="B",
        capability="pattern analysis",
        reasoning_type="inductive",
        difficulty="easy",
        response="The shaded piece fits, so the answer is B.",
        extract="B",
        official=1,
        strict=1,
    ),
    dict(
        index=2,
        question_type="choice",
        answer="['A', 'C']",
        capability="calculation",
        reasoning_type="deductive",
        difficulty="medium",
        response="Both A and C hold.\nAnswer: A, C",
        extract="A, C",
        official=1,
        strict=1,
    ),
    dict(
        index=3,
        question_type="choice",
        answer="D",
        capability="spatial-temporal",
        reasoning_type="abductive",
        difficulty="hard",
        response="I pick option C.",
        extract="C",
        official=0,
        strict=0,
    ),
    # a judge reads the intent; the rules find no letter: the modes disagree
    dict(
        index=4,
        question_type="choice",
        answer="B",
        capability="pattern analysis, spatial-temporal",
        reasoning_type="inductive",
        difficulty="medium",
        response="The second figure completes the pattern.",
        extract="B",
        official=1,
        strict=0,
        strict_failure="no_answer_found",
    ),
    dict(
        index=5,
        question_type="open",
        answer="12",
        capability="calculation",
        reasoning_type="deductive",
        difficulty="easy",
        response="Counting gives 12 squares.",
        extract="12",
        verdict="1",
        official=1,
        strict=1,
    ),
    # 1.414 agrees with sqrt(2) to two decimals for the judge; strict compares text
    dict(
        index=6,
        question_type="open",
        answer="\\sqrt{2}",
        capability="calculation",
        reasoning_type="deductive",
        difficulty="hard",
        response="The diagonal is about 1.414.",
        extract="1.414",
        verdict="1",
        official=1,
        strict=0,
    ),
    dict(
        index=7,
        question_type="open",
        answer="7",
        capability="casual chaining analysis",
        reasoning_type="abductive",
        difficulty="medium",
        response="The answer is 9.",
        extract="9",
        verdict="0",
        official=0,
        strict=0,
    ),
    dict(
        index=8,
        question_type="open",
        function_id="open_function",
        prompt_id="open_question_prompt",
        answer="['Left', 'Up']",
        capability="planning and exploring",
        reasoning_type="deductive",
        difficulty="easy",
        response="Move Left, then Up. Final answer: Left, Up",
        extract="Left, Up",
        verdict="1",
        official=1,
        strict=1,
    ),
    dict(
        index=9,
        question_type="open",
        function_id="match_answer_function",
        prompt_id="id_answer_pair_prompt",
        answer="{'A': 5, 'B': 1, 'C': 2}",
        capability="calculation",
        reasoning_type="deductive",
        difficulty="medium",
        response="So A: 5, B: 1, C: 2.",
        extract='{"A": 5, "B": 1, "C": 2}',
        official=1,
        strict=1,
    ),
    dict(
        index=10,
        question_type="open",
        function_id="match_answer_function",
        prompt_id="id_answer_pair_prompt_reverse",
        answer="{'1': 'C', '2': 'A'}",
        capability="causal chaining analysis",
        reasoning_type="abductive",
        difficulty="hard",
        response="Box 1 holds C and box 2 holds A.",
        extract='```json\n{"1": "C", "2": "A"}\n```',
        official=1,
        strict=0,
        strict_failure="no_answer_found",
    ),
    dict(
        index=11,
        question_type="open",
        function_id="match_coordinate_function",
        prompt_id="coordinate_answer_prompt",
        answer="[{'row': 'B', 'column': 2}]",
        capability="spatial-temporal",
        reasoning_type="deductive",
        difficulty="easy",
        response="The treasure is at (B, 2).",
        extract='[{"row": "B", "column": 2}]',
        official=1,
        strict=1,
    ),
    dict(
        index=12,
        question_type="open",
        function_id="multiple_match_function",
        prompt_id="multiple_answer_prompt",
        answer="[['A', 'C'], ['B', 'D']]",
        capability="planning and exploring",
        reasoning_type="abductive",
        difficulty="medium",
        response="The lighter balls are A and C.",
        extract='```\n{"id": ["A", "C"]}\n```',
        official=1,
        strict=0,
        strict_failure="no_answer_found",
    ),
    dict(
        index=13,
        question_type="open",
        function_id="compare_expression_function",
        prompt_id="formula_extraction_prompt",
        answer="['3 + 4 = 7']",
        capability="calculation",
        reasoning_type="inductive",
        difficulty="medium",
        response="Moving one stick gives 4 + 3 = 7",
        extract='{"equation": "4 + 3 = 7"}',
        official=1,
        strict=1,
    ),
    dict(
        index=14,
        question_type="open",
        function_id="calculate_answer_function_1",
        prompt_id="id_answer_pair_prompt",
        capability="calculation",
        reasoning_type="inductive",
        difficulty="hard",
        response="A = 6, B = 2, C = 4",
        extract='{"A": 6, "B": 2, "C": 4}',
        official=1,
        strict=1,
    ),
    dict(
        index=15,
        question_type="open",
        function_id="calculate_answer_function_sudoku_4",
        prompt_id="sudoku_4_extraction_prompt",
        special_info=SUDOKU_BASE,
        capability="planning and exploring",
        reasoning_type="deductive",
        difficulty="hard",
        response=f"Filling it in:\n{GOOD_GRID}",
        extract=GOOD_GRID,
        official=1,
        strict=1,
    ),
    dict(
        index=16,
        question_type="open",
        function_id="calculate_answer_function_sudoku_4",
        prompt_id="sudoku_4_extraction_prompt",
        special_info=SUDOKU_BASE,
        capability="planning and exploring",
        reasoning_type="deductive",
        difficulty="hard",
        response="Final grid: [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 1, 2]]",
        extract="```JSON\n[[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 1, 2]]\n```",
        official=0,
        strict=0,
    ),
    dict(
        index=17,
        question_type="open",
        function_id="calculate_answer_function_hashi",
        prompt_id="hashi_extraction_prompt",
        special_info=HASHI_INFO,
        capability="planning and exploring",
        reasoning_type="deductive",
        difficulty="medium",
        response="Draw one bridge from a1 to a3.",
        extract='[{"start": "a1", "end": "a3", "number": 1}]',
        official=1,
        strict=1,
    ),
    dict(
        index=18,
        question_type="open",
        function_id="calculate_answer_function_skyscraper",
        prompt_id="skyscraper_extraction_prompt",
        special_info=SKY_INFO,
        capability="spatial-temporal",
        reasoning_type="deductive",
        difficulty="medium",
        response="Grid: [[1, 2, 3], [2, 3, 1], [3, 1, 2]]",
        extract="[[1, 2, 3], [2, 3, 1], [3, 1, 2]]",
        official=1,
        strict=1,
    ),
    dict(
        index=19,
        question_type="open",
        function_id="judge_24points_function",
        prompt_id="points24_prompt",
        special_info="{'init_cards': [1, 8, 9, 13]}",
        capability="calculation",
        reasoning_type="deductive",
        difficulty="easy",
        response="(K - 9 - A) × 8 = 24",
        extract="(13-9-1)*8=24",
        official=1,
        strict=1,
    ),
    dict(
        index=20,
        question_type="open",
        function_id="calculate_answer_function_99",
        prompt_id="id_answer_pair_prompt",
        answer="{'A': 1}",
        capability="calculation",
        reasoning_type="inductive",
        difficulty="easy",
        response="A: 1",
        extract='{"A": 1}',
        official=0,
        strict=0,
        failure="unknown_function_id",
        strict_failure="unknown_function_id",
    ),
    dict(
        index=21,
        question_type="open",
        function_id="calculate_answer_function_sudoku_4",
        prompt_id="sudoku_4_extraction_prompt",
        special_info="base_matrix: oops",
        capability="planning and exploring",
        reasoning_type="deductive",
        difficulty="easy",
        response=GOOD_GRID,
        extract=GOOD_GRID,
        official=0,
        strict=0,
        failure="invalid_special_info",
        strict_failure="invalid_special_info",
    ),
    # the judge never returns JSON: five tries, then False
    dict(
        index=22,
        question_type="open",
        function_id="match_answer_function",
        prompt_id="id_answer_pair_prompt",
        answer="{'A': 2}",
        capability="calculation",
        reasoning_type="abductive",
        difficulty="easy",
        response="no idea",
        extract="I cannot tell.",
        official=0,
        strict=0,
        failure="judge_no_json",
        strict_failure="no_answer_found",
    ),
    dict(
        index=23,
        question_type="choice",
        answer="C",
        capability="pattern analysis",
        reasoning_type="inductive",
        difficulty="easy",
        images=2,
        response="Comparing both panels. Answer: C",
        extract="C",
        official=1,
        strict=1,
    ),
    dict(
        index=24,
        question_type="choice",
        answer="A",
        capability="pattern analysis",
        reasoning_type="inductive",
        difficulty="easy",
        image_path="panel_24.png",
        response="Answer: A",
        extract="A",
        official=1,
        strict=1,
    ),
    dict(
        index=27,
        question_type="open",
        function_id="calculate_answer_function_sudoku_6",
        prompt_id="sudoku_6_extraction_prompt",
        special_info=SUDOKU6_BASE,
        capability="planning and exploring",
        reasoning_type="deductive",
        difficulty="hard",
        response=f"Completed:\n{GOOD_GRID6}",
        extract=f"```json\n{GOOD_GRID6}\n```",
        official=1,
        strict=1,
    ),
    dict(
        index=28,
        question_type="open",
        function_id="calculate_answer_function_yinyang",
        prompt_id="yinyang_extraction_prompt",
        special_info=YINYANG_BASE,
        capability="planning and exploring",
        reasoning_type="deductive",
        difficulty="hard",
        response=f"Stones (1 = black):\n{YINYANG}",
        extract=YINYANG,
        official=1,
        strict=1,
    ),
    # bad rows: skipped by the loader
    dict(
        index=25,
        question_type="choice",
        answer="A",
        capability="calculation",
        reasoning_type="inductive",
        difficulty="easy",
        image_path="missing.png",
        response="",
        extract="A",
        bad="not found",
    ),
    dict(
        index=26,
        question_type="choice",
        answer="A",
        capability="calculation",
        reasoning_type="inductive",
        difficulty="easy",
        corrupt=True,
        response="",
        extract="A",
        bad="image",
    ),
]
GOOD = [r for r in ROWS if "bad" not in r]
COLUMNS = [
    "index", "image", "image_path", "question", "answer", "question_type", "function_id",
    "prompt_id", "special_info", "capability", "reasoning_type", "difficulty",
]  # fmt: skip


def png(index: int, k: int = 0) -> Image.Image:
    """A distinct tiny image per row (and per image of a row)."""
    return Image.new("RGB", (8 + k, 6), (index * 9 % 256, 40 * k, 200))


def _b64(image: Image.Image) -> str:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def question(row: dict[str, Any]) -> str:
    return f"Q{row['index']:02d}: solve the puzzle shown."


def write_fixture(folder: Path) -> Path:
    """Write ``MME_Reasoning.tsv`` (and the image files it names) under ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "images" / "MMEReasoning").mkdir(parents=True, exist_ok=True)
    path = folder / "MME_Reasoning.tsv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, COLUMNS, delimiter="\t")
        writer.writeheader()
        for row in ROWS:
            out = {k: row.get(k, "") for k in COLUMNS}
            out["question"] = question(row)
            if row.get("image_path"):
                if row["image_path"] != "missing.png":
                    png(row["index"]).save(folder / "images" / "MMEReasoning" / row["image_path"])
            elif row.get("corrupt"):
                out["image"] = base64.b64encode(b"not a png at all " * 30).decode()
            elif row.get("images"):
                out["image"] = str([_b64(png(row["index"], k)) for k in range(row["images"])])
            else:
                out["image"] = _b64(png(row["index"]))
            writer.writerow(out)
    return path


@pytest.fixture()
def fixture_dir(tmp_path: Path) -> Path:
    write_fixture(tmp_path / "mme_reasoning")
    return tmp_path / "mme_reasoning"


def test_registered_with_its_scorer():
    bench = BENCHMARKS.get("mme-reasoning")
    assert bench.scorer == "mme_reasoning"


def test_reads_rows_images_and_fields(fixture_dir: Path):
    data = load_benchmark("mme-reasoning", fixture_dir)
    assert [s.id for s in data.samples] == [str(r["index"]) for r in GOOD]
    by_id = {s.id: s for s in data.samples}
    # images decoded in order: the multi-image row has both, distinct sizes 8x6 and 9x6
    assert [im.size for im in by_id["23"].images] == [(8, 6), (9, 6)]
    assert by_id["23"].images[1].getpixel((0, 0)) == png(23, 1).getpixel((0, 0))
    assert by_id["24"].images[0].getpixel((0, 0)) == png(24).getpixel((0, 0))  # by image_path
    assert by_id["1"].prompt == "Q01: solve the puzzle shown."
    record = by_id["15"].meta["record"]
    assert record["function_id"] == "calculate_answer_function_sudoku_4"
    assert record["special_info"] == SUDOKU_BASE
    assert record["answer"] is None and by_id["15"].answer == ""  # a validator-checked puzzle
    assert by_id["1"].meta["record"]["function_id"] is None  # empty cell -> None
    assert by_id["7"].meta["category"] == "abductive"  # category: the reasoning type


def test_skips_bad_rows_with_reasons(fixture_dir: Path):
    data = load_benchmark("mme-reasoning", fixture_dir)
    reasons = dict(data.skipped)
    assert set(reasons) == {"25", "26"}
    assert "missing.png" in reasons["25"] and "not found" in reasons["25"]
    assert "image" in reasons["26"]


def test_json_layout_reads_the_same_rows(tmp_path: Path):
    """The table as JSON with image file names, one row a list of two."""
    folder = tmp_path / "json"
    folder.mkdir()
    png(1).save(folder / "a.png")
    png(1, 1).save(folder / "b.png")
    rows = [
        {"index": 1, "question": "q1", "answer": "A", "question_type": "choice",
         "image_path": "['a.png', 'b.png']", "reasoning_type": "inductive"},
        {"index": 2, "question": "q2", "answer": "A", "image_path": "a.png"},
    ]  # fmt: skip
    (folder / "mme_reasoning.json").write_text(json.dumps(rows))
    data = load_benchmark("mme-reasoning", folder)
    assert [len(s.images) for s in data.samples] == [2]
    assert data.skipped == [("2", "2: missing field 'question_type'")]


def test_missing_path_names_it(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_benchmark("mme-reasoning", tmp_path / "nowhere")
