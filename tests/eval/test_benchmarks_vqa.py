"""Loaders for ChartQA, MME, V* Bench, GQA and CLEVR counting."""

import random

import pytest
from benchmark_fixtures import by_id, hf_image, png, score, sizes, write_json, write_jsonl
from benchmark_fixtures import write_parquet as parquet

from mmrft.data import Sample
from mmrft.data import write_jsonl as write_mmrft_jsonl
from mmrft.eval.benchmarks import load_benchmark
from mmrft.eval.scorers import score_records


def test_chartqa_official_repo(tmp_path):
    test = tmp_path / "ChartQA Dataset" / "test"
    png(test / "png" / "41699051005347.png", (30, 20))
    png(test / "png" / "8127.png", (10, 10))
    write_json(
        test / "test_human.json",
        [
            {"imgname": "41699051005347.png", "query": "How many food items?", "label": "14"},
            {"imgname": "nope.png", "query": "Lost chart?", "label": "1"},
        ],
    )
    write_json(
        test / "test_augmented.json",
        [
            {"imgname": "8127.png", "query": "Lowest bar?", "label": "23"},
            {"imgname": "8127.png", "label": "5"},
        ],
    )

    data = load_benchmark("chartqa", tmp_path)
    s = by_id(data.samples)
    assert sorted(s) == ["augmented-0", "human-0"]
    assert s["human-0"].prompt == "How many food items?" and sizes(s["human-0"]) == [(30, 20)]
    assert s["human-0"].meta["category"] == "human" and s["augmented-0"].answer == "23"
    skipped = dict(data.skipped)
    assert "nope.png" in skipped["human-1"] and "'query'" in skipped["augmented-1"]
    assert score("chartqa", s["human-0"], "<answer>14</answer>") == 1.0
    assert score("chartqa", s["human-0"], "<answer>20</answer>") == 0.0

    human_only = load_benchmark("chartqa", test / "test_human.json")
    assert [x.id for x in human_only.samples] == ["human-0"]


def _mme_release(root):
    # "artwork"-style subtask: images/ + questions_answers_YN/.
    art = root / "artwork"
    png(art / "images" / "10002.jpg", (12, 8))
    (art / "questions_answers_YN").mkdir()
    (art / "questions_answers_YN" / "10002.txt").write_text(
        "Is this painted by Monet? Please answer yes or no.\tYes\n"
        "Is this painted by Dali? Please answer yes or no.\tNo\n"
    )
    # "existence"-style subtask: image and txt side by side; one broken line.
    ex = root / "existence"
    png(ex / "000000006040.png", (5, 5))
    (ex / "000000006040.txt").write_text(
        "Is there a train? Please answer yes or no.\tYes\nno tab here\n"
    )
    (ex / "000000009999.txt").write_text("Is there a cat?\tNo\n")  # its image is missing


def test_mme_release_folder(tmp_path):
    root = tmp_path / "MME_Benchmark_release_version"
    _mme_release(root)
    (root / "readme.txt").write_text("not a question file")  # the release root is not a subtask
    data = load_benchmark("mme", root)
    assert [s.id for s in data.samples] == [
        "artwork/10002.txt:1",
        "artwork/10002.txt:2",
        "existence/000000006040.txt:1",
    ]
    art1, art2, ex = data.samples
    assert (
        art1.prompt == "Is this painted by Monet? Please answer yes or no." and art1.answer == "Yes"
    )
    assert art1.meta["record"]["image"] == art2.meta["record"]["image"] == "artwork/10002.jpg"
    assert ex.meta["category"] == ex.meta["record"]["category"] == "existence"
    assert sizes(art2) == [(12, 8)] and sizes(ex) == [(5, 5)]
    skipped = dict(data.skipped)
    assert set(skipped) == {"existence/000000006040.txt:2", "existence/000000009999.txt:1"}
    assert "question<TAB>answer" in skipped["existence/000000006040.txt:2"]
    assert "000000009999" in skipped["existence/000000009999.txt:1"]

    # The scorer's acc+ groups the two artwork questions by the record's "image".
    preds = ["Yes", "Yes", "yes"]  # art1 right, art2 wrong, ex right
    records = [
        {**s.meta["record"], "prediction": p} for s, p in zip(data.samples, preds, strict=True)
    ]
    _, summary = score_records("mme", records)
    assert summary["acc"] == pytest.approx(2 / 3)
    assert summary["acc_plus"] == pytest.approx(1 / 2)  # artwork image not both right
    assert score("mme", art2, "No") == 1.0 and score("mme", art2, "Yes") == 0.0

    one = load_benchmark("mme", root / "artwork")  # a single subtask folder
    assert len(one.samples) == 2


def test_mme_parquet(tmp_path):
    rows = [
        {
            "question_id": "code_reasoning/0020.png",
            "image": hf_image((7, 3)),
            "question": "Is the output 3? Please answer yes or no.",
            "answer": "Yes",
            "category": "code_reasoning",
        },
        {
            "question_id": "code_reasoning/0020.png",
            "image": hf_image((7, 3)),
            "question": "Is the output 4? Please answer yes or no.",
            "answer": "No",
            "category": "code_reasoning",
        },
        {
            "question_id": "OCR/1.jpg",
            "image": hf_image((2, 2)),
            "question": "Is it red?",
            "answer": "maybe",
            "category": "OCR",
        },
    ]
    parquet(tmp_path / "data" / "test-00000-of-00004.parquet", rows)
    data = load_benchmark("mme", tmp_path)
    assert [s.id for s in data.samples] == [
        "code_reasoning/0020.png#1",
        "code_reasoning/0020.png#2",
    ]
    assert data.samples[1].meta["record"]["image"] == "code_reasoning/0020.png"
    assert data.skipped[0][0] == "OCR/1.jpg#1" and "'maybe'" in data.skipped[0][1]


def test_vstar_folders(tmp_path):
    png(tmp_path / "direct_attributes" / "sa_4690.jpg", (40, 30))
    write_json(
        tmp_path / "direct_attributes" / "sa_4690.json",
        {
            "target_object": ["glove"],
            "bbox": [[1, 2, 3, 4]],
            "question": "What is the material of the glove?",
            "options": ["rubber", "cotton", "kevlar", "leather"],
        },
    )
    png(tmp_path / "relative_position" / "sa_1.jpg", (9, 9))
    write_json(tmp_path / "relative_position" / "sa_1.json", {"question": "Left or right?"})
    png(tmp_path / "OCR" / "x.jpg", (3, 3))  # not one of the two benchmark folders

    data = load_benchmark("vstar", tmp_path)
    (s,) = data.samples
    assert s.id == "direct_attributes/sa_4690" and s.meta["category"] == "direct_attributes"
    # The options are shuffled with the seed "vstar:<id>"; recompute the order independently.
    order = list(range(4))
    random.Random("vstar:direct_attributes/sa_4690").shuffle(order)
    shown = [["rubber", "cotton", "kevlar", "leather"][i] for i in order]
    assert s.meta["record"]["options"] == shown
    assert s.answer == "ABCD"[shown.index("rubber")]  # the first official option is correct
    assert s.prompt.splitlines()[0] == "What is the material of the glove?"
    assert s.prompt.splitlines()[1:] == [f"{L}. {o}" for L, o in zip("ABCD", shown, strict=True)]
    assert sizes(s) == [(40, 30)]
    assert data.skipped == [
        ("relative_position/sa_1", "relative_position/sa_1: missing field 'options'")
    ]
    wrong = next(letter for letter in "ABCD" if letter != s.answer)
    assert score("vstar", s, f"<answer>{s.answer}</answer>") == 1.0
    assert score("vstar", s, f"<answer>{wrong}</answer>") == 0.0
    assert score("vstar", s, "<answer>rubber</answer>") == 1.0  # the option text counts too


def test_vstar_test_questions_jsonl(tmp_path):
    png(tmp_path / "direct_attributes" / "sa_86101.jpg", (20, 10))
    write_jsonl(
        tmp_path / "test_questions.jsonl",
        [
            {
                "image": "direct_attributes/sa_86101.jpg",
                "text": "What is the color of the dustpan?\n(A) purple\n(B) red\n(C) blue\n(D) white\n"
                "Answer with the option's letter from the given choices directly.",
                "category": "direct_attributes",
                "question_id": 1,
                "label": "C",
            },
            {
                "image": "direct_attributes/sa_86101.jpg",
                "text": "No options here",
                "category": "direct_attributes",
                "question_id": 2,
                "label": "A",
            },
        ],
    )
    data = load_benchmark("vstar", tmp_path)
    (s,) = data.samples
    assert s.prompt == "What is the color of the dustpan?\nA. purple\nB. red\nC. blue\nD. white"
    assert s.answer == "C" and s.meta["record"]["options"][2] == "blue"
    assert data.skipped[0][0] == "2"
    assert score("vstar", s, "The answer is C") == 1.0 and score("vstar", s, "B") == 0.0


def test_gqa(tmp_path):
    png(tmp_path / "images" / "n161313.jpg", (16, 12))
    write_json(
        tmp_path / "questions1.2" / "testdev_balanced_questions.json",
        {
            "20968379": {
                "imageId": "n161313",
                "question": "Is the sky blue?",
                "answer": "yes",
                "fullAnswer": "Yes, the sky is blue.",
                "isBalanced": True,
                "types": {"structural": "verify", "semantic": "attr", "detailed": "c"},
            },
            "20968380": {
                "imageId": "n000000",
                "question": "What is it?",
                "answer": "cat",
                "types": {"structural": "query"},
            },
        },
    )
    data = load_benchmark("gqa", tmp_path)
    (s,) = data.samples
    assert (s.id, s.prompt, s.answer) == ("20968379", "Is the sky blue?", "yes")
    assert s.meta["category"] == "verify" and sizes(s) == [(16, 12)]
    assert data.skipped[0][0] == "20968380" and "n000000.jpg" in data.skipped[0][1]
    assert score("gqa", s, "Yes.") == 1.0 and score("gqa", s, "no") == 0.0


def test_count_clevr(tmp_path):
    root = tmp_path / "CLEVR_v1.0"
    png(root / "images" / "val" / "CLEVR_val_000000.png", (48, 32))
    q = {
        "image_index": 0,
        "split": "val",
        "image_filename": "CLEVR_val_000000.png",
        "question_family_index": 40,
        "program": [],
    }
    write_json(
        root / "questions" / "CLEVR_val_questions.json",
        {
            "info": {},
            "questions": [
                {**q, "question_index": 0, "question": "How many cubes are there?", "answer": "3"},
                {**q, "question_index": 1, "question": "Is there a sphere?", "answer": "yes"},
                {**q, "question_index": 2, "question": "How many spheres?", "answer": "0"},
                {
                    **q,
                    "question_index": 3,
                    "question": "How many cones?",
                    "answer": "2",
                    "image_filename": "CLEVR_val_000999.png",
                },
            ],
        },
    )
    data = load_benchmark("count", root)
    s = by_id(data.samples)
    assert sorted(s) == ["val-0", "val-2"]  # the yes/no question is not a counting question
    assert s["val-0"].answer == "3" and s["val-0"].meta["category"] == "3"
    assert sizes(s["val-2"]) == [(48, 32)]
    assert [r for r, _ in data.skipped] == ["val-3"]
    assert score("count", s["val-0"], "<answer>3</answer>") == 1.0
    assert score("count", s["val-0"], "<answer>4</answer>") == 0.0


def test_count_jsonl_formats(tmp_path):
    png(tmp_path / "images" / "a.png", (6, 6))
    write_jsonl(
        tmp_path / "clevr_style.jsonl",
        [
            {"image_filename": "a.png", "question": "How many?", "answer": 2},
            {"image": "a.png", "question": "Which color?", "answer": "red"},
        ],
    )
    data = load_benchmark("count", tmp_path / "clevr_style.jsonl")
    assert [x.answer for x in data.samples] == ["2"]
    assert data.skipped[0][0] == "clevr_style.jsonl:2" and "'red'" in data.skipped[0][1]

    from PIL import Image

    own = [Sample("c1", "How many dots?", "4", [Image.new("RGB", (5, 4))], task="count")]
    own.append(Sample("c2", "Which?", "many", [Image.new("RGB", (5, 4))], task="count"))
    write_mmrft_jsonl(own, tmp_path / "mine" / "count.jsonl")
    data = load_benchmark("count", tmp_path / "mine" / "count.jsonl")
    (s,) = data.samples
    assert (s.id, s.answer, sizes(s)) == ("c1", "4", [(5, 4)])
    assert data.skipped[0][0] == "c2"
    assert score("count", s, "four dots, so 4") == 1.0
