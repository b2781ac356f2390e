"""Samples that load but cannot be encoded are skipped, recorded as found and counted; an
all-bad dataset is an error naming its file; a run stopped at step 0 keeps its examples."""

from __future__ import annotations

import json

import pytest
from PIL import Image
from test_pipeline import SMALL

from mmrft.build import run
from mmrft.config import load_config
from mmrft.data.jsonl import write_jsonl
from mmrft.data.screen import SkipLog, encode_screen, fit_pixel_budget
from mmrft.data.stream import ProblemStream
from mmrft.models.loading import load_family
from mmrft.tasks import TASKS
from mmrft.trainer.signals import RunInterrupted


def _with_bad_samples(n_good: int = 4):
    """Good counting samples plus a 4000x2 image and a prompt longer than the context (1024)."""
    samples = TASKS.get("count")().dataset(n_good, seed=9, level=1)
    wide, long = TASKS.get("count")().dataset(2, seed=50, level=1)
    wide.id, wide.images = "wide", [Image.new("RGB", (4000, 2), "white")]
    long.id, long.prompt = "long", "count the shapes " * 400
    return samples[:2] + [wide] + samples[2:] + [long]


def test_unencodable_samples_are_skipped_and_logged_the_moment_they_are_met(tmp_path):
    family = load_family("tiny-qwen2.5-vl")
    stream = ProblemStream.from_samples(_with_bad_samples(), seed=0, name="train.jsonl")
    skip_log = SkipLog(tmp_path / "skipped.jsonl")
    stream.screen = encode_screen(family)
    stream.on_skip = lambda s, reason: skip_log.add({"id": s.id, "reason": reason})
    served = [s.id for s in stream.next_batch(4)]  # one pass over all six
    assert "wide" not in served and "long" not in served and len(set(served)) == 4
    rows = [json.loads(x) for x in skip_log.path.read_text().splitlines()]  # already on disk
    reasons = {r["id"]: r["reason"] for r in rows}
    assert set(reasons) == {"wide", "long"}
    assert "aspect ratio" in reasons["wide"] and "context" in reasons["long"]
    for _ in range(3):  # later epochs skip them without logging them again
        assert not {"wide", "long"} & {s.id for s in stream.next_batch(4)}
    assert len(skip_log.path.read_text().splitlines()) == 2
    assert SkipLog(skip_log.path).add({"id": "wide", "reason": "again"}) is False  # a resume


def test_a_stream_where_nothing_can_be_encoded_names_its_file():
    family = load_family("tiny-qwen2.5-vl")
    bad = [s for s in _with_bad_samples() if s.id in ("wide", "long")]
    stream = ProblemStream.from_samples(bad, seed=0, name="data/train.jsonl")
    stream.screen = encode_screen(family)
    with pytest.raises(ValueError, match="data/train.jsonl: no usable problem left"):
        stream.next_batch(1)


def test_images_are_kept_at_the_models_pixel_budget():
    family = load_family("tiny-qwen2.5-vl")
    samples = TASKS.get("count")().dataset(2, seed=1, level=1)
    samples[0].images = [Image.new("RGB", (900, 600))]
    small = samples[1].images[0]
    assert fit_pixel_budget(samples, family.resized_image_size) == 1
    want = family.resized_image_size(900, 600)
    assert samples[0].images[0].size == want and want[0] * want[1] < 900 * 600 / 10
    assert samples[1].images[0] is small  # never enlarged
    samples[0].images = [Image.new("RGB", (400, 100))]
    fit_pixel_budget(samples, lambda w, h: (w, h), max_pixels=10_000)  # a fixed-size family
    assert samples[0].images[0].size == (200, 50)  # area 10_000, aspect 4:1 kept


def test_pipeline_counts_encode_time_skips_in_summary_and_skipped_jsonl(tmp_path):
    data = write_jsonl(_with_bad_samples(), tmp_path / "data" / "train.jsonl")
    with data.open("a") as f:
        f.write("{not json\n")
    out = tmp_path / "run"
    overrides = [f"run.out_dir={out}", f"data.train_path={data}", *SMALL, "rl.steps=1"]
    summary = run(load_config(None, overrides))
    assert summary["train_lines_skipped"] == 1 and summary["train_samples_skipped"] == 2
    rows = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    assert rows[0]["line"] == 7 and {r.get("id") for r in rows[1:]} == {"wide", "long"}


def test_an_all_bad_dataset_names_the_file_and_writes_skipped_jsonl(tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text('{"id": "a"}\nnot json\n')
    out = tmp_path / "run"
    with pytest.raises(ValueError, match=f"{data}: no usable samples: all 2 lines"):
        run(load_config(None, [f"run.out_dir={out}", f"data.train_path={data}", *SMALL]))
    assert [json.loads(x)["line"] for x in (out / "skipped.jsonl").read_text().splitlines()] == [
        1,
        2,
    ]


REWARD = """
import os, signal
from pathlib import Path

def reward(completions, samples):
    marker = Path(__file__).with_suffix(".sent")
    if not marker.exists():  # stop once, during the step-0 evaluation
        marker.write_text("")
        os.kill(os.getpid(), signal.SIGTERM)
    return {"overall": [len(c) / 50 for c in completions]}
"""


def test_a_run_stopped_at_step_0_resumes_without_a_second_step_0_and_keeps_examples(tmp_path):
    (tmp_path / "stop_once.py").write_text(REWARD)
    out = tmp_path / "run"
    overrides = [f"run.out_dir={out}", *SMALL, "sft.steps=0", "rl.steps=1",
                 f"rl.reward={tmp_path / 'stop_once.py'}:reward"]  # fmt: skip
    with pytest.raises(RunInterrupted) as info:
        run(load_config(None, overrides))
    assert info.value.checkpoint.name == "step_000000"
    before = json.loads((out / "examples" / "before.json").read_text())
    run(load_config(None, overrides))
    steps = [json.loads(x)["step"] for x in (out / "evals.jsonl").read_text().splitlines()]
    assert steps == [0, 1]
    examples = [json.loads(x) for x in (out / "examples.jsonl").read_text().splitlines()]
    assert len(examples) == 6
    assert [e["completion_before"] for e in examples] == before["greedy_texts"]
