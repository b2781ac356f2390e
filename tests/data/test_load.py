"""One loader, three formats: JSONL, Parquet and a ``datasets`` folder give the same samples.

Each format is written by its own library (``write_jsonl``, ``pyarrow.parquet.write_table``,
``datasets.Dataset.save_to_disk``) from the same samples, and must load back equal to them.
"""

import doctest
import io
import json
import logging

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import mmrft.data.rows
from mmrft.data import Sample, load_dataset_file, read_jsonl, write_jsonl
from mmrft.tasks import TASKS


@pytest.fixture(scope="module")
def samples():
    shapes = TASKS.get("count")().dataset(3, seed=0, level=5)  # speckled images, nested meta
    red, blue = Image.new("RGB", (5, 3), (200, 0, 0)), Image.new("RGB", (2, 7), (0, 0, 250))
    pair = Sample(id="pair-1", prompt="Same colour?", answer="no", images=[red, blue], task="x")
    text = Sample(id="7", prompt="2 + 5?", answer="7", meta={"k": [1, 2.5, None, "s"]})
    return [*shapes, pair, text]


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def columns(samples, image=lambda i, k, im: {"bytes": png(im), "path": None}):
    """Column dict of the standard fields; ``meta`` as JSON text (a struct column would force
    one schema on every row's meta)."""
    return {
        "id": [s.id for s in samples],
        "task": [s.task for s in samples],
        "prompt": [s.prompt for s in samples],
        "answer": [s.answer for s in samples],
        "images": [
            [image(i, k, im) for k, im in enumerate(s.images)] for i, s in enumerate(samples)
        ],
        "meta": [json.dumps(s.meta) for s in samples],
    }


def assert_same(a: Sample, b: Sample) -> None:
    assert (a.id, a.task, a.prompt, a.answer, a.meta) == (b.id, b.task, b.prompt, b.answer, b.meta)
    assert len(a.images) == len(b.images)
    for x, y in zip(a.images, b.images, strict=True):
        assert y.mode == "RGB"
        assert np.array_equal(np.asarray(x), np.asarray(y))


def assert_all_same(expected, result):
    assert result.skipped == []
    assert len(result.samples) == len(expected)
    for a, b in zip(expected, result.samples, strict=True):
        assert_same(a, b)


def test_three_formats_load_equal(tmp_path, samples):
    jsonl = write_jsonl(samples, tmp_path / "j" / "d.jsonl")
    parquet = tmp_path / "p" / "d.parquet"
    parquet.parent.mkdir()
    pq.write_table(pa.table(columns(samples)), parquet)
    folder = tmp_path / "hf" / "train"
    cols = columns(samples, image=lambda i, k, im: im)  # datasets encodes PIL images itself
    features = datasets.Features(
        {
            **{k: datasets.Value("string") for k in ("id", "task", "prompt", "answer", "meta")},
            "images": datasets.Sequence(datasets.Image()),
        }
    )
    datasets.Dataset.from_dict(cols, features=features).save_to_disk(str(folder))

    loads = [load_dataset_file(p) for p in (jsonl, parquet, folder)]
    for result in loads:
        assert_all_same(samples, result)


def test_parquet_image_paths_and_single_items(tmp_path, samples):
    # Paths relative to the Parquet file (the PNGs write_jsonl put in images/), raw bytes, and
    # an ``images`` cell holding one item rather than a list: all the same images.
    jsonl = write_jsonl(samples, tmp_path / "d.jsonl")
    refs = [json.loads(line)["images"] for line in jsonl.read_text().splitlines()]
    by_path = columns(samples, image=lambda i, k, im: refs[i][k])
    pq.write_table(pa.table(by_path), tmp_path / "paths.parquet")
    assert_all_same(samples, load_dataset_file(tmp_path / "paths.parquet"))

    by_bytes = columns(samples, image=lambda i, k, im: png(im))
    pq.write_table(pa.table(by_bytes), tmp_path / "bytes.parquet")
    assert_all_same(samples, load_dataset_file(tmp_path / "bytes.parquet"))

    one = samples[:3]  # one image each
    single = {**columns(one), "images": [png(s.images[0]) for s in one]}
    pq.write_table(pa.table(single), tmp_path / "single.parquet")
    assert_all_same(one, load_dataset_file(tmp_path / "single.parquet"))


def test_messages_form(tmp_path, samples):
    pair = samples[3]
    rows = [
        {  # TRL's conversational form: image parts pair with images in order
            "id": "m1",
            "answer": "no",
            "images": [png(im) for im in pair.images],
            "messages": [
                # Arrow needs one type per column: every content is a list of parts here.
                {"role": "system", "content": [{"type": "text", "text": "Answer yes or no."}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "image"},
                        {"type": "image"},
                        {"type": "text", "text": "Same colour?"},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "no"}],
                },  # the SFT target (meta["response"]); `answer` stays the reference
            ],
        },
        {"id": "m2", "answer": "7", "prompt": [{"role": "user", "content": "2 + 5?"}]},
    ]
    pq.write_table(pa.Table.from_pylist(rows[:1]), tmp_path / "m.parquet")
    (loaded,) = load_dataset_file(tmp_path / "m.parquet").samples
    assert loaded.prompt == "Answer yes or no.\n\nSame colour?"
    turns = [
        {"role": "system", "content": "Answer yes or no."},
        {"role": "user", "content": "Same colour?"},
        {"role": "assistant", "content": "no"},
    ]
    meta = {"messages": turns, "response": "no"}
    assert_same(Sample("m1", loaded.prompt, "no", pair.images, meta=meta), loaded)

    (tmp_path / "m.jsonl").write_text(json.dumps(rows[1]) + "\n")
    (text,) = read_jsonl(tmp_path / "m.jsonl").samples
    assert (text.id, text.prompt, text.answer, text.images) == ("m2", "2 + 5?", "7", [])


def test_bad_rows_skipped_by_index(tmp_path, samples, caplog):
    row = {k: v[0] for k, v in columns(samples[:1]).items()}
    img = row["images"][0]
    user = {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "?"}]}
    chat = {**row, "prompt": None}  # Arrow gives every row every column: null means absent
    rows = [
        row,  # 0
        {**row, "images": [{"bytes": None, "path": "missing.png"}]},  # 1
        {**row, "images": [{"bytes": b"not a png", "path": None}]},  # 2
        {**row, "answer": None},  # 3
        {**row, "meta": "{not json"},  # 4
        {**chat, "images": [img, img], "messages": [user]},  # 5: 1 image part, 2 images
        {**chat, "messages": [user, user]},  # 6: two user turns
        {**row, "meta": "[1]"},  # 7
        {**row, "messages": [user]},  # 8: both prompt and messages
        {**chat, "messages": [user]},  # 9: good
    ]
    rows[0]["messages"] = None  # from_pylist takes its columns from the first row
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "bad.parquet")
    with caplog.at_level(logging.WARNING, logger="mmrft.data.load"):
        result = load_dataset_file(tmp_path / "bad.parquet")

    assert [s.prompt for s in result.samples] == [row["prompt"], "?"]
    assert_same(samples[0], result.samples[0])
    reasons = dict(result.skipped)
    assert list(reasons) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert reasons[1] == "row 1: image 'missing.png' not found"
    assert reasons[2].startswith("row 2: image 0 (bytes) cannot be decoded")
    assert reasons[3] == "row 3: missing field 'answer'"
    assert reasons[4].startswith("row 4: field 'meta' is a string but not JSON")
    assert reasons[5] == "row 5: 'messages' has 1 image parts but the row has 2 images"
    assert reasons[6].startswith("row 6: field 'messages' must be one user turn")
    assert reasons[7] == "row 7: field 'meta' must be an object"
    assert reasons[8] == "row 8: give 'prompt' or 'messages', not both"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 8 of 10 samples" in warnings[0].getMessage()


def test_bad_rows_in_a_datasets_folder(tmp_path, samples):
    cols = columns(samples[:3])
    cols["images"][1] = [{"bytes": b"\x89PNG truncated", "path": None}]
    cols["id"][2] = None
    features = datasets.Features(
        {
            **{k: datasets.Value("string") for k in ("id", "task", "prompt", "answer", "meta")},
            "images": datasets.Sequence(datasets.Image()),
        }
    )
    datasets.Dataset.from_dict(cols, features=features).save_to_disk(str(tmp_path / "d"))
    result = load_dataset_file(tmp_path / "d")
    assert [s.id for s in result.samples] == [samples[0].id]
    assert [i for i, _ in result.skipped] == [1, 2]
    assert result.skipped[0][1].startswith("row 1: image 0 (bytes) cannot be decoded")
    assert result.skipped[1][1] == "row 2: missing field 'id'"


def test_path_errors(tmp_path, samples):
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        load_dataset_file(tmp_path / "nope.parquet")
    (tmp_path / "d.csv").write_text("id,prompt\n")
    with pytest.raises(ValueError, match=r"unknown dataset kind '\.csv'"):
        load_dataset_file(tmp_path / "d.csv")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 nope")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        load_dataset_file(tmp_path / "broken.parquet")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ValueError, match="no state.json"):
        load_dataset_file(tmp_path / "plain")
    ds = datasets.Dataset.from_dict(columns(samples[4:]))
    datasets.DatasetDict({"train": ds, "test": ds}).save_to_disk(str(tmp_path / "dd"))
    with pytest.raises(ValueError, match=r"splits \['test', 'train'\]"):
        load_dataset_file(tmp_path / "dd")
    assert_all_same(samples[4:], load_dataset_file(tmp_path / "dd" / "train"))


def test_doctests():
    result = doctest.testmod(mmrft.data.rows)
    assert result.attempted and not result.failed
