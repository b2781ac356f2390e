"""The loader registry and the behaviour every loader shares: errors, skips, prompt helpers."""

import doctest
import logging

import pytest
from benchmark_fixtures import png, write_json, write_jsonl

from mmrft.eval.benchmarks import BENCHMARKS, common, load_benchmark
from mmrft.eval.scorers import SCORERS

NAMES = [
    "chartqa",
    "count",
    "gqa",
    "mathverse",
    "mathvision",
    "mathvista",
    "mme",
    "mmmu",
    "refcoco",
    "screenspot",
    "vstar",
]


def test_every_benchmark_is_registered_with_a_known_scorer():
    assert set(NAMES) <= set(BENCHMARKS.names())  # other tests may register fakes too
    for name in NAMES:
        cls = BENCHMARKS.get(name)
        assert cls.name == name and cls.scorer in SCORERS and cls.description


@pytest.mark.parametrize("name", NAMES)
def test_wrong_path_names_it(tmp_path, name):
    missing = tmp_path / "nowhere" / "bench"
    with pytest.raises(FileNotFoundError, match="nowhere/bench"):
        load_benchmark(name, missing)


@pytest.mark.parametrize("name", NAMES)
def test_empty_folder_says_what_was_looked_for(tmp_path, name):
    with pytest.raises(FileNotFoundError, match=r"looked for: .+"):
        load_benchmark(name, tmp_path)


def test_unknown_name_and_split():
    with pytest.raises(KeyError, match="unknown benchmark 'mathvistaa'"):
        load_benchmark("mathvistaa", ".")
    with pytest.raises(ValueError, match=r"unknown mmmu split 'val'; known: \['dev'"):
        load_benchmark("mmmu", ".", split="val")


def test_invalid_json_file_is_a_configuration_error(tmp_path):
    (tmp_path / "test_human.json").write_text("[{oops")
    with pytest.raises(ValueError, match="test_human.json is not valid JSON"):
        load_benchmark("chartqa", tmp_path / "test_human.json")


def test_invalid_jsonl_line_is_skipped_and_warned(tmp_path, caplog):
    png(tmp_path / "images" / "1.jpg", (4, 4))
    row = {"id": "1", "question": "q", "options": [], "answer": "1", "image": "images/1.jpg"}
    write_jsonl(tmp_path / "test.jsonl", [row, "{not json", {**row, "id": "2", "answer": None}])
    with caplog.at_level(logging.WARNING):
        data = load_benchmark("mathvision", tmp_path / "test.jsonl")
    assert [s.id for s in data.samples] == ["1"]
    assert data.skipped[0] == (
        "test.jsonl:2",
        "test.jsonl:2: invalid JSON (Expecting property "
        "name enclosed in double quotes at column 2)",
    )
    assert data.skipped[1] == ("2", "2: missing field 'answer'")
    assert "skipped 2 of 3 rows" in caplog.text


def test_undecodable_image_is_skipped(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "n1.jpg").write_bytes(b"not an image")
    write_json(
        tmp_path / "testdev_balanced_questions.json",
        {"q1": {"imageId": "n1", "question": "?", "answer": "yes"}},
    )
    data = load_benchmark("gqa", tmp_path)
    assert data.samples == [] and "cannot be decoded" in data.skipped[0][1]


def test_records_are_json_lines_the_score_cli_accepts(tmp_path):
    """``{**record, "prediction": ...}`` must serialise: no images or bytes in the record."""
    import json

    png(tmp_path / "images" / "n1.jpg", (4, 4))
    write_json(
        tmp_path / "testdev_balanced_questions.json",
        {"q1": {"imageId": "n1", "question": "?", "answer": "yes"}},
    )
    (sample,) = load_benchmark("gqa", tmp_path).samples
    line = json.dumps({**sample.meta["record"], "prediction": "yes"})
    assert json.loads(line)["answer"] == "yes" and sample.task == "gqa"


def test_common_doctests():
    assert doctest.testmod(common).failed == 0
