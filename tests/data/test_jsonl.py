"""The JSONL dataset format: round trips, and bad lines skipped with their reason."""

import base64
import io
import json
import logging

import numpy as np
import pytest
from PIL import Image

from mmrft.data import LoadResult, Sample, read_jsonl, write_jsonl
from mmrft.tasks import TASKS


@pytest.fixture
def samples():
    return TASKS.get("count")().dataset(6, seed=0, level=5)


def assert_same(a: Sample, b: Sample) -> None:
    assert (a.id, a.task, a.prompt, a.answer, a.meta) == (b.id, b.task, b.prompt, b.answer, b.meta)
    assert len(a.images) == len(b.images)
    for x, y in zip(a.images, b.images, strict=True):
        assert y.mode == "RGB"
        assert np.array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("embed", [False, True])
def test_round_trip(tmp_path, samples, embed):
    path = write_jsonl(samples, tmp_path / "train.jsonl", embed_images=embed)
    result = read_jsonl(path)
    assert isinstance(result, LoadResult) and result.skipped == []
    assert len(result.samples) == len(samples)
    for a, b in zip(samples, result.samples, strict=True):
        assert_same(a, b)
    assert (tmp_path / "images").exists() != embed


def test_paths_are_relative_and_multi_image_names(tmp_path):
    red, blue = Image.new("RGB", (4, 4), "red"), Image.new("RGB", (4, 4), "blue")
    sample = Sample(id="pair/1", prompt="Same?", answer="no", images=[red, blue])
    write_jsonl([sample], tmp_path / "sub" / "d.jsonl")
    row = json.loads((tmp_path / "sub" / "d.jsonl").read_text())
    assert row["images"] == ["images/pair_1.png", "images/pair_1-1.png"]
    assert_same(sample, read_jsonl(tmp_path / "sub" / "d.jsonl").samples[0])


def test_duplicate_ids_refused(tmp_path, samples):
    with pytest.raises(ValueError, match="duplicate sample id"):
        write_jsonl([samples[0], samples[0]], tmp_path / "d.jsonl")


def test_bad_lines_are_skipped_and_reported(tmp_path, samples, caplog):
    path = write_jsonl(samples[:2], tmp_path / "d.jsonl")
    good = path.read_text().splitlines()
    (tmp_path / "images" / "garbage.png").write_bytes(b"not a png at all")
    png = (tmp_path / "images" / f"{samples[0].id}.png").read_bytes()
    (tmp_path / "images" / "truncated.png").write_bytes(png[: len(png) // 2])

    def line(**changes):
        row = {"id": "x", "prompt": "p", "answer": "1", "images": []}
        row.update(changes)
        return json.dumps({k: v for k, v in row.items() if v is not None})

    lines = [
        good[0],  # 1
        line(images=["images/missing.png"]),  # 2
        line(images=["images/garbage.png"]),  # 3
        '{"id": "x", "prompt": ',  # 4
        line(answer=None),  # 5: no answer key
        "",  # 6: blank lines are not samples
        "[1, 2]",  # 7
        line(meta=[1]),  # 8
        line(images=["data:image/png;base64,@@@"]),  # 9
        line(images=["images/truncated.png"]),  # 10
        line(answer=[3]),  # 11
        good[1],  # 12
    ]
    path.write_text("\n".join(lines) + "\n")
    with caplog.at_level(logging.WARNING, logger="mmrft.data.jsonl"):
        result = read_jsonl(path)

    assert [s.id for s in result.samples] == [samples[0].id, samples[1].id]
    assert_same(samples[0], result.samples[0])
    reasons = dict(result.skipped)
    assert list(reasons) == [2, 3, 4, 5, 7, 8, 9, 10, 11]
    assert reasons[2] == "line 2: image 'images/missing.png' not found"
    assert reasons[3].startswith("line 3: image 'images/garbage.png' cannot be decoded")
    assert reasons[4].startswith("line 4: invalid JSON")
    assert reasons[5] == "line 5: missing field 'answer'"
    assert reasons[7] == "line 7: expected a JSON object, got list"
    assert reasons[8] == "line 8: field 'meta' must be an object"
    assert reasons[9] == "line 9: embedded image 0 is not valid base64"
    assert reasons[10].startswith("line 10: image 'images/truncated.png' cannot be decoded")
    assert reasons[11] == "line 11: field 'answer' must be a string, got list"
    # One summarising warning, not one per line.
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 9 of 11 samples" in warnings[0].getMessage()


def test_missing_file_raises_with_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.jsonl"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_lenient_fields(tmp_path):
    # Non-RGB images become RGB, numeric answers become strings, unknown keys are ignored.
    buf = io.BytesIO()
    Image.new("RGBA", (3, 2), (10, 20, 30, 128)).save(buf, format="PNG")
    uri = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    Image.new("L", (2, 2), 77).save(tmp_path / "grey.png")
    row = {"id": 7, "prompt": "p", "answer": 5, "images": [uri, "grey.png"], "source": "x"}
    (tmp_path / "d.jsonl").write_text(json.dumps(row) + "\n")
    result = read_jsonl(tmp_path / "d.jsonl")
    (sample,) = result.samples
    assert (sample.id, sample.answer, sample.task, sample.meta) == ("7", "5", "", {})
    assert [im.mode for im in sample.images] == ["RGB", "RGB"]
    assert sample.images[0].getpixel((0, 0)) == (10, 20, 30)
    assert sample.images[1].getpixel((1, 1)) == (77, 77, 77)
