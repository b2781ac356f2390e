"""mmrft distill / rft end to end on tiny models: the teacher's kept traces become the student's
SFT data; a teacher that never answers correctly stops the stage with no dataset written."""

from __future__ import annotations

import json

import pytest

import mmrft.build.distill as distill
from mmrft.build.components import make_family
from mmrft.config import ConfigError, load_config
from mmrft.data.jsonl import read_jsonl
from mmrft.data.stream import ProblemStream
from mmrft.models import load_policy, save_policy
from mmrft.tasks import TASKS
from mmrft.trainer.distill import NoCorrectTraces
from mmrft.trainer.sft import train_sft

# Every problem counts exactly two shapes, so a teacher that has learnt the answer format
# answers "2" and is always right: the tests need no luck.
TWO = ["data.count_range=[2,2]", "rollout.max_new_tokens=8", "eval.max_new_tokens=8"]
SMALL = [
    *TWO,
    "distill.prompts=2",
    "distill.k=4",
    "data.eval_size=4",
    "eval.n_samples=2",
    "sft.steps=3",
    "sft.batch_size=4",
    "run.tensorboard=false",
]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny Qwen2.5-VL taught ``<answer>2</answer>`` by a few SFT steps, saved to disk."""
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = make_family(load_config(None), model.config.model_type, processor)
    samples = TASKS.get("count")(count_range=(2, 2)).dataset(8, seed=5, level=2)
    stream = ProblemStream(lambda i, lv: samples[i % len(samples)])
    # ~30% of its sampled answers are then exactly <answer>2</answer> (the rest cut short)
    train_sft(model, family, stream, steps=12, batch_size=4, lr=1e-2)
    path = tmp_path_factory.mktemp("teacher") / "model"
    save_policy(model, processor, path)
    return str(path)


def test_teacher_never_correct_writes_no_dataset(tmp_path, monkeypatch):
    """A fresh model never produces a full <answer>2</answer>: a clear error, no train.jsonl,
    and the student is never trained."""
    monkeypatch.setattr(distill, "train_student", lambda *a: pytest.fail("student trained"))
    cfg = load_config(
        None,
        [f"run.out_dir={tmp_path}", "distill.name_or_path=tiny-qwen2.5-vl", *SMALL],
    )
    with pytest.raises(NoCorrectTraces, match="produced no correct trace: 0 of 8 traces"):
        distill.run_distill(cfg)
    assert not (tmp_path / "data" / "train.jsonl").exists()
    assert not (tmp_path / "COMPLETE").exists()
    failed = json.loads((tmp_path / "data" / "stats.json.failed").read_text())
    assert failed["tasks"]["all"]["correct"] == 0 and failed["tasks"]["all"]["pass@4"] == 0.0


def test_teacher_traces_become_the_dataset(tmp_path, monkeypatch, teacher):
    """The sampling half of distill on its own (the student's SFT replaced by a recorder)."""
    calls = []

    def fake_student(cfg, student, data, sft_out, eval_path=None):
        calls.append((student, data))
        model, processor = load_policy(student)
        save_policy(model, processor, sft_out / "model")
        return {"accuracy_before": 0.0, "accuracy_after": 0.5}

    monkeypatch.setattr(distill, "train_student", fake_student)
    cfg = load_config(
        None, [f"run.out_dir={tmp_path}", f"distill.name_or_path={teacher}", *SMALL, "distill.k=8"]
    )
    summary = distill.run_distill(cfg)
    data = tmp_path / "data" / "train.jsonl"
    assert calls == [("tiny-qwen2.5-vl", data)]  # the student is model.name_or_path
    rows = read_jsonl(data).samples
    stats = json.loads((tmp_path / "data" / "stats.json").read_text())
    assert len(rows) == stats["tasks"]["all"]["kept"] == summary["stats"]["all"]["kept"] > 0
    assert all(s.answer == "2" and "<answer>2</answer>" in s.meta["response"] for s in rows)
    assert summary["teacher_accuracy"] > 0  # the teacher was measured on held-out problems
    assert (summary["accuracy_before"], summary["accuracy_after"]) == (0.0, 0.5)
    assert (tmp_path / "model" / "config.json").is_file() and (tmp_path / "COMPLETE").exists()
    # a rerun returns the saved summary without work
    monkeypatch.setattr(distill, "sample_teacher", lambda *a: pytest.fail("sampled again"))
    assert distill.run_distill(cfg) == summary


def test_rounds_need_the_policy_as_teacher(tmp_path):
    cfg = load_config(
        None, [f"run.out_dir={tmp_path}", "distill.name_or_path=x", "distill.rounds=2"]
    )
    with pytest.raises(ConfigError, match="distill.name_or_path to null"):
        distill.run_distill(cfg)
    with pytest.raises(ConfigError, match="own teacher"):
        distill.run_rft(cfg)
