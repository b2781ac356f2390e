"""Loaders for the math benchmarks: MathVista, MMMU, MathVerse, MATH-Vision.

Each test writes a few rows in the official schema, loads them, and checks the samples against
the values written; then that the matching scorer gives 1.0 to a correct answer and 0.0 to a
wrong one on the loader's record.
"""

import pytest
from benchmark_fixtures import (
    by_id,
    hf_image,
    png,
    score,
    sizes,
    write_json,
    write_jsonl,
    write_parquet,
)

from mmrft.eval.benchmarks import load_benchmark

# ----------------------------------------------------------------------------- MathVista


def _mathvista_rows():
    return [
        {
            "pid": "1",
            "question": "How long is the spring compressed?",
            "image": "images/1.jpg",
            "choices": None,
            "unit": None,
            "precision": 1.0,
            "answer": "1.2",
            "question_type": "free_form",
            "answer_type": "float",
            "metadata": {"task": "textbook question answering", "skills": ["algebra"]},
            "query": "Hint: answer with one decimal.\nQuestion: How long is the spring compressed?",
        },
        {
            "pid": "5",
            "question": "Find the angle H",
            "image": "images/5.jpg",
            "choices": ["97", "102", "107"],
            "unit": None,
            "precision": None,
            "answer": "102",
            "question_type": "multi_choice",
            "answer_type": "text",
            "metadata": {"task": "geometry problem solving", "skills": ["geometry"]},
            "query": "Hint: pick a letter.\nQuestion: Find the angle H\nChoices:\n(A) 97",
        },
    ]


def test_mathvista_parquet(tmp_path):
    rows = _mathvista_rows()
    rows[0]["decoded_image"] = hf_image((20, 10))
    rows[1]["decoded_image"] = hf_image((8, 12))
    bad = {**rows[0], "pid": "9", "decoded_image": None, "image": "images/9.jpg"}
    hidden = {**rows[0], "pid": "10", "answer": ""}  # as in the test split
    write_parquet(tmp_path / "data" / "testmini-00000-of-00001.parquet", [*rows, bad, hidden])

    data = load_benchmark("mathvista", tmp_path)
    s = by_id(data.samples)
    assert sorted(s) == ["1", "5"]
    assert s["1"].prompt == rows[0]["query"]  # the official query is kept
    assert sizes(s["1"]) == [(20, 10)] and sizes(s["5"]) == [(8, 12)]
    assert s["5"].answer == "102" and s["5"].meta["category"] == "geometry problem solving"
    rec = s["5"].meta["record"]
    assert rec["choices"] == ["97", "102", "107"] and rec["question_type"] == "multi_choice"
    # Row 9 has neither bytes nor a file, row 10 no answer: skipped, naming row and cause.
    assert [row for row, _ in data.skipped] == ["9", "10"]
    assert "empty 'answer'" in data.skipped[1][1]
    assert "images/9.jpg" in data.skipped[0][1] and "not found" in data.skipped[0][1]

    assert score("mathvista", s["5"], "The answer is B.") == 1.0  # B -> choices[1] = "102"
    assert score("mathvista", s["5"], "<answer>A</answer>") == 0.0
    assert score("mathvista", s["1"], "<answer>1.2</answer>") == 1.0
    assert score("mathvista", s["1"], "<answer>1.5</answer>") == 0.0


def test_mathvista_github_layout(tmp_path):
    rows = {r["pid"]: {k: v for k, v in r.items() if k != "query"} for r in _mathvista_rows()}
    rows["1"]["precision"] = 1  # the GitHub JSON stores an int
    png(tmp_path / "images" / "1.jpg", (30, 15))
    png(tmp_path / "images" / "5.jpg", (9, 9))
    rows["7"] = {k: v for k, v in rows["5"].items() if k != "answer"} | {"pid": "7"}
    write_json(tmp_path / "testmini.json", rows)

    data = load_benchmark("mathvista", tmp_path / "testmini.json")
    s = by_id(data.samples)
    # No query.json: the mmrft template, question then "A. choice" lines.
    assert s["5"].prompt == "Find the angle H\nA. 97\nB. 102\nC. 107"
    assert sizes(s["1"]) == [(30, 15)]
    assert data.skipped == [("7", "7: missing field 'answer'")]
    assert score("mathvista", s["1"], "so it is \\boxed{1.2}") == 1.0

    write_json(tmp_path / "query.json", {"5": "OFFICIAL QUERY 5"})
    s = by_id(load_benchmark("mathvista", tmp_path).samples)
    assert s["5"].prompt == "OFFICIAL QUERY 5"


# ----------------------------------------------------------------------------- MMMU


def _mmmu_row(n, **over):
    row = {
        "id": f"validation_Art_Theory_{n}",
        "question": "Which animal is in <image 1>?",
        "options": "['cat', 'dog']",
        "explanation": "",
        "answer": "B",
        "question_type": "multiple-choice",
        "subfield": "Painting",
        "img_type": "['Paintings']",
        "topic_difficulty": "Easy",
    }
    for k in range(1, 8):
        row[f"image_{k}"] = None
    row["image_1"] = hf_image((16, 8))
    return {**row, **over}


def test_mmmu_subject_folders(tmp_path):
    two_images = _mmmu_row(
        2,
        question="Compare <image 1> and <image 2>. How many legs in total?",
        options="[]",
        answer="12",
        question_type="open",
        image_2=hf_image((5, 7)),
    )
    missing = _mmmu_row(3, question="What is in <image 2>?")  # image_2 is null
    write_parquet(
        tmp_path / "Art_Theory" / "validation-00000-of-00001.parquet",
        [_mmmu_row(1), two_images, missing],
    )
    write_parquet(
        tmp_path / "Math" / "validation-00000-of-00001.parquet",
        [_mmmu_row(1, id="validation_Math_1", answer="A")],
    )
    write_parquet(tmp_path / "Math" / "dev-00000-of-00001.parquet", [_mmmu_row(9)])

    data = load_benchmark("mmmu", tmp_path)
    s = by_id(data.samples)
    assert sorted(s) == ["validation_Art_Theory_1", "validation_Art_Theory_2", "validation_Math_1"]
    mc = s["validation_Art_Theory_1"]
    assert mc.prompt == "Which animal is in <image 1>?\nA. cat\nB. dog"
    assert mc.meta["record"]["options"] == ["cat", "dog"] and mc.answer == "B"
    assert mc.meta["category"] == "Art_Theory" and s["validation_Math_1"].meta["category"] == "Math"
    open_q = s["validation_Art_Theory_2"]
    assert open_q.prompt == two_images["question"]  # no options for open questions
    assert sizes(open_q) == [(16, 8), (5, 7)]  # image_1 then image_2
    assert data.skipped[0][0] == "validation_Art_Theory_3"
    assert "<image 2>" in data.skipped[0][1] and "image_2" in data.skipped[0][1]

    assert score("mmmu", mc, "<answer>B</answer>") == 1.0
    assert score("mmmu", mc, "<answer>A</answer>") == 0.0
    assert score("mmmu", open_q, "<answer>12</answer>") == 1.0
    assert score("mmmu", open_q, "<answer>13</answer>") == 0.0

    dev = load_benchmark("mmmu", tmp_path, split="dev").samples
    assert [x.id for x in dev] == ["validation_Art_Theory_9"]


def test_mmmu_hidden_test_answers_are_skipped(tmp_path):
    file = write_parquet(tmp_path / "test-00000-of-00001.parquet", [_mmmu_row(1, answer="?")])
    data = load_benchmark("mmmu", file)
    assert data.samples == [] and "hidden" in data.skipped[0][1]


# ----------------------------------------------------------------------------- MathVerse


def _mathverse_rows():
    base = {
        "problem_index": "1",
        "question": "Find angle CED.\nChoices:\nA:40°\nB:60°",
        "answer": "B",
        "question_type": "multi-choice",
        "metadata": {"split": "testmini", "subject": "Plane Geometry", "subfield": "Angle"},
        "query_wo": "Answer directly.\nQuestion: Find angle CED.\nChoices:\nA:40°\nB:60°",
        "query_cot": "Reason first.\nQuestion: Find angle CED.\nChoices:\nA:40°\nB:60°",
    }
    return [
        {
            **base,
            "sample_index": "1",
            "problem_version": "Text Dominant",
            "image": "images_version_1-4/image_1.png",
        },
        {
            **base,
            "sample_index": "5",
            "problem_version": "Vision Only",
            "question": "",
            "image": "images_version_6/image_1.png",
            "query_cot": "See the image. Reason first.",
        },
        {
            **base,
            "sample_index": "6",
            "problem_version": "Vision Only",
            "answer": "3",
            "question_type": "free-form",
            "image": "images_version_6/missing.png",
        },
    ]


def test_mathverse_json_and_images(tmp_path):
    png(tmp_path / "images" / "images_version_1-4" / "image_1.png", (12, 6))
    png(tmp_path / "images" / "images_version_6" / "image_1.png", (6, 12))
    write_json(tmp_path / "testmini.json", _mathverse_rows())

    data = load_benchmark("mathverse", tmp_path)
    s = by_id(data.samples)
    assert s["1"].prompt.startswith("Reason first.") and s["5"].prompt.startswith("See the image")
    assert sizes(s["1"]) == [(12, 6)] and sizes(s["5"]) == [(6, 12)]
    assert s["5"].meta["category"] == "Vision Only"
    assert s["1"].meta["record"]["question_type"] == "multi-choice"
    assert [r for r, _ in data.skipped] == ["6"] and "missing.png" in data.skipped[0][1]
    assert score("mathverse", s["1"], "<answer>B</answer>") == 1.0
    assert score("mathverse", s["1"], "<answer>A</answer>") == 0.0


def test_mathverse_parquet_and_text_only(tmp_path):
    rows = _mathverse_rows()[:1]
    rows[0]["image"] = hf_image((4, 4))
    write_parquet(tmp_path / "testmini.parquet", rows)
    (sample,) = load_benchmark("mathverse", tmp_path).samples
    assert sizes(sample) == [(4, 4)]
    text_only = {**_mathverse_rows()[0], "image": "", "problem_version": "Text Only"}
    write_json(tmp_path / "testmini_text_only.json", [text_only])
    (sample,) = load_benchmark("mathverse", tmp_path, split="testmini_text_only").samples
    assert sample.images == [] and sample.meta["category"] == "Text Only"


# ----------------------------------------------------------------------------- MATH-Vision


def test_mathvision_github_layout(tmp_path):
    rows = [
        {
            "id": "4",
            "question": "How many digits?\n<image1>",
            "options": [],
            "answer": "6",
            "solution": None,
            "level": 1,
            "subject": "counting",
            "image": "images/4.jpg",
        },
        {
            "id": "39",
            "question": "Which colour?\n<image1>",
            "options": ["red", "blue", "green"],
            "answer": "B",
            "solution": None,
            "level": 3,
            "subject": "logic",
            "image": "images/39.jpg",
        },
        {
            "id": "6",
            "question": "Which picture?\n<image1>",
            "options": ["A", "B", "C"],
            "answer": "C",
            "solution": None,
            "level": 3,
            "subject": "logic",
            "image": "images/6.jpg",
        },
        {
            "id": "7",
            "question": "Broken",
            "options": ["x", "y"],
            "answer": "Q",
            "level": 1,
            "subject": "logic",
            "image": "images/4.jpg",
        },
    ]
    for name, size in (("4", (10, 20)), ("39", (3, 5)), ("6", (7, 7))):
        png(tmp_path / "images" / f"{name}.jpg", size)
    write_jsonl(tmp_path / "data" / "testmini.jsonl", rows)

    data = load_benchmark("mathvision", tmp_path, split="testmini")
    s = by_id(data.samples)
    assert s["39"].prompt == "Which colour?\n<image1>\nA. red\nB. blue\nC. green"
    assert s["6"].prompt == "Which picture?\n<image1>\nOptions: A, B, C"  # choices drawn in image
    assert sizes(s["4"]) == [(10, 20)] and s["4"].meta["category"] == "counting"
    assert s["39"].meta["record"]["options"] == ["red", "blue", "green"]
    assert [r for r, _ in data.skipped] == ["7"] and "'Q'" in data.skipped[0][1]

    assert score("mathvision", s["4"], "\\boxed{6}") == 1.0
    assert score("mathvision", s["4"], "\\boxed{7}") == 0.0
    assert score("mathvision", s["39"], "The answer is B.") == 1.0
    assert score("mathvision", s["39"], "The answer is C.") == 0.0


def test_mathvision_parquet(tmp_path):
    row = {
        "id": "4",
        "question": "How many?",
        "options": [],
        "answer": "6",
        "level": 1,
        "subject": "counting",
        "image": "images/4.jpg",
        "decoded_image": hf_image((9, 3)),
    }
    write_parquet(tmp_path / "data" / "test-00000-of-00001.parquet", [row])
    (sample,) = load_benchmark("mathvision", tmp_path).samples
    assert sizes(sample) == [(9, 3)] and sample.answer == "6"


@pytest.mark.parametrize("name", ["mathvista", "mmmu", "mathverse", "mathvision"])
def test_missing_layout_lists_candidates(tmp_path, name):
    with pytest.raises(FileNotFoundError, match="looked for: .*parquet"):
        load_benchmark(name, tmp_path)
