"""A dataset is data: it can neither run code nor read files outside its folder (issue #14).

* a row's ``reward`` (or ``meta["reward"]``) naming ``file.py:fn`` / ``module:fn`` is skipped
  and counted without importing anything; only registered rewards may be named;
* an image or audio path leading outside the dataset's folder (``../``, absolute, a symlink
  pointing out) skips the row, named with its path, unless ``data.allow_outside_paths``.
"""

import json
import logging
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmrft.config import load_config
from mmrft.data import Sample, load_dataset_file, read_jsonl
from mmrft.data.audio import write_wav
from mmrft.rewards import safe_reward
from mmrft.rewards.compose import SampleRouter


@pytest.fixture()
def planted(tmp_path, monkeypatch):
    """A reward file that leaves a marker when imported, and a module of the same kind."""
    marker = tmp_path / "PWNED"
    code = f"open({str(marker)!r}, 'w').write('ran')\ndef fn(c, s):\n    return {{'overall': [1.0] * len(c)}}\n"
    (tmp_path / "evil.py").write_text(code)
    (tmp_path / "evil_module.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    return marker


def write_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_row_naming_reward_code_is_skipped_without_running_it(tmp_path, planted, caplog):
    evil_file = f"{tmp_path / 'evil.py'}:fn"
    rows = [
        {"id": "ok", "prompt": "?", "answer": "1", "reward": "math"},
        {"id": "file", "prompt": "?", "answer": "1", "reward": evil_file},
        {"id": "module", "prompt": "?", "answer": "1", "reward": "evil_module:fn"},
        {"id": "meta", "prompt": "?", "answer": "1", "meta": {"reward": "evil_module:fn"}},
        {"id": "bare-file", "prompt": "?", "answer": "1", "reward": "evil.py"},
    ]
    path = write_rows(tmp_path / "d.jsonl", rows)
    with caplog.at_level(logging.WARNING, logger="mmrft.data.jsonl"):
        result = read_jsonl(path)
    assert [s.id for s in result.samples] == ["ok"]
    assert [n for n, _ in result.skipped] == [2, 3, 4, 5]
    assert all("may name only registered rewards" in reason for _, reason in result.skipped)
    assert "line 2: field 'reward'" in result.skipped[0][1] and "evil.py:fn" in caplog.text
    assert not planted.exists()


def test_parquet_rows_are_held_to_the_same_rule(tmp_path, planted):
    table = {"id": ["a", "b"], "prompt": ["?", "?"], "answer": ["1", "1"]}
    table["reward"] = ["count", "evil_module:fn"]
    pq.write_table(pa.table(table), tmp_path / "d.parquet")
    result = load_dataset_file(tmp_path / "d.parquet")
    assert [s.id for s in result.samples] == ["a"] and result.skipped[0][0] == 1
    assert "row 1: field 'reward'" in result.skipped[0][1] and not planted.exists()


def test_the_task_reward_router_never_imports_what_a_sample_names(planted):
    # A sample built in code (not through the loaders) that names code: that completion fails,
    # counted and named, and nothing is imported.
    router = SampleRouter(lambda s: s.meta["reward"])
    samples = [
        Sample(id="good", prompt="", answer="3", meta={"reward": "count"}),
        Sample(id="bad", prompt="", answer="3", meta={"reward": "evil_module:fn"}),
        Sample(id="typo", prompt="", answer="3", meta={"reward": "cuont"}),  # loads; fails here
    ]
    scores, failed = safe_reward(router, ["<answer>3</answer>"] * 3, samples)
    assert scores["overall"] == [1.0, 0.0, 0.0] and failed == 2 and not planted.exists()
    with pytest.raises(KeyError, match="sample 'bad' names reward 'evil_module:fn', which is not"):
        router.route(samples[1])
    with pytest.raises(KeyError, match="sample 'typo' names reward 'cuont'"):
        router.route(samples[2])


def test_custom_reward_code_from_the_config_still_loads(tmp_path, planted):
    from mmrft.build import make_reward

    fn = make_reward(load_config(None, [f"rl.reward={tmp_path / 'evil.py'}:fn"]))
    assert fn.__name__ == "fn" and planted.exists()  # the user's own choice: it runs


@pytest.fixture()
def outside(tmp_path):
    """A dataset folder ``data/`` and files beside it, outside: an image, a clip, a link."""
    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    Image.new("RGB", (4, 4), (0, 200, 0)).save(data / "images" / "in.png")
    Image.new("RGB", (4, 4), (200, 0, 0)).save(tmp_path / "secret.png")
    write_wav(tmp_path / "secret.wav", [0.0] * 1600)
    write_wav(data / "in.wav", [0.0] * 1600)
    os.symlink(tmp_path / "secret.png", data / "images" / "link.png")
    os.symlink(tmp_path, data / "up")  # a folder link leading out
    return data


OUTSIDE_REFS = [
    ("../secret.png", "images"),
    ("{abs}/secret.png", "images"),
    ("images/link.png", "images"),
    ("up/secret.png", "images"),
    ("images/../../secret.png", "images"),
    ("../secret.wav", "audios"),
    ("{abs}/secret.wav", "audios"),
]


def test_paths_outside_the_dataset_folder_skip_the_row_naming_it(outside):
    root = outside.parent
    rows = [{"id": "in", "prompt": "?", "answer": "1", "images": ["images/in.png"]}]
    rows.append(
        {"id": "abs-in", "prompt": "?", "answer": "1", "images": [str(outside / "images/in.png")]}
    )
    rows.append({"id": "wav-in", "prompt": "?", "answer": "1", "audios": ["in.wav"]})
    for k, (ref, field) in enumerate(OUTSIDE_REFS):
        rows.append({"id": f"out{k}", "prompt": "?", "answer": "1", field: [ref.format(abs=root)]})
    path = write_rows(outside / "d.jsonl", rows)

    result = read_jsonl(path)
    assert [s.id for s in result.samples] == ["in", "abs-in", "wav-in"]
    assert [n for n, _ in result.skipped] == list(range(4, 4 + len(OUTSIDE_REFS)))
    for (_, reason), (ref, _) in zip(result.skipped, OUTSIDE_REFS, strict=True):
        assert ref.format(abs=root) in reason and "outside the dataset's folder" in reason
        assert "data.allow_outside_paths" in reason

    allowed = load_dataset_file(path, allow_outside_paths=True)
    assert len(allowed.samples) == len(rows) and allowed.skipped == []


@pytest.mark.parametrize("allow", [False, True])
def test_unopenable_paths_skip_the_row_instead_of_ending_the_load(outside, allow):
    # Each of these used to raise out of the loader (RuntimeError, OSError, ValueError).
    os.symlink("loop-b", outside / "images" / "loop-a")
    os.symlink("loop-a", outside / "images" / "loop-b")
    refs = {"images": ["images/loop-a", "x" * 5000 + ".png", "a\x00b.png"], "audios": ["\x00"]}
    rows = [{"id": "in", "prompt": "?", "answer": "1", "images": ["images/in.png"]}]
    rows += [
        {"id": f"{field}{k}", "prompt": "?", "answer": "1", field: [ref]}
        for field, some in refs.items()
        for k, ref in enumerate(some)
    ]
    result = load_dataset_file(write_rows(outside / "d.jsonl", rows), allow_outside_paths=allow)
    assert [s.id for s in result.samples] == ["in"] and len(result.skipped) == 4
    reasons = [r for _, r in result.skipped]
    assert "cannot be opened (Symlink loop" in reasons[0]
    assert "... (5004 characters) cannot be opened (File name too long)" in reasons[1]
    assert all("embedded null byte" in r for r in reasons[2:])


def test_datasets_image_path_structs_are_confined_too(outside):
    images = [
        [{"bytes": None, "path": "images/in.png"}],
        [{"bytes": None, "path": "../secret.png"}],
    ]
    table = {"id": ["a", "b"], "prompt": ["?", "?"], "answer": ["1", "1"], "images": images}
    pq.write_table(pa.table(table), outside / "d.parquet")
    result = load_dataset_file(outside / "d.parquet")
    assert [s.id for s in result.samples] == ["a"]
    assert "row 1: image '../secret.png' resolves to" in result.skipped[0][1]


def test_the_run_config_key_reaches_the_loader(outside):
    from mmrft.build import make_data

    rows = [{"id": "out", "prompt": "?", "answer": "1", "images": ["../secret.png"]}]
    rows.append({"id": "in", "prompt": "?", "answer": "1", "images": ["images/in.png"]})
    path = write_rows(outside / "d.jsonl", rows)
    overrides = [f"data.train_path={path}", "data.eval_size=1", "data.eval_holdout=0"]
    _, rl, _, skipped = make_data(load_config(None, overrides))
    assert [n for n, _ in skipped] == [1] and rl.size == 1
    _, rl, _, skipped = make_data(load_config(None, [*overrides, "data.allow_outside_paths=true"]))
    assert skipped == [] and rl.size == 2
