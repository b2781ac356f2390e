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


def test_distill_into_a_student_of_another_family(tmp_path, monkeypatch, teacher):
    """Qwen2.5-VL teacher -> LLaVA student (another tokenizer: traces travel as text)."""
    overrides = [f"distill.name_or_path={teacher}", "model.name_or_path=tiny-llava", "distill.k=8"]
    cfg = load_config(None, [f"run.out_dir={tmp_path}", *SMALL, *overrides])
    summary = distill.run_distill(cfg)

    data = tmp_path / "data" / "train.jsonl"
    rows = read_jsonl(data).samples
    stats = json.loads((tmp_path / "data" / "stats.json").read_text())
    assert len(rows) == stats["tasks"]["all"]["kept"] == summary["stats"]["all"]["kept"] > 0
    assert all(s.answer == "2" and "<answer>2</answer>" in s.meta["response"] for s in rows)
    assert stats["teacher"] == teacher and summary["teacher_accuracy"] > 0
    # the student's SFT ran on that file, from model.name_or_path, evaluated on the held-out set
    sft_cfg = load_config(tmp_path / "sft" / "config.yaml")
    assert (sft_cfg.data.train_path, sft_cfg.model.name_or_path) == (str(data), "tiny-llava")
    assert sft_cfg.data.eval_path == str(tmp_path / "eval_problems" / "eval.jsonl")
    sft_summary = json.loads((tmp_path / "sft" / "summary.json").read_text())
    for key in ("accuracy_before", "accuracy_after", "greedy_accuracy_after"):
        assert summary[key] == sft_summary[key]
    model, _ = load_policy(str(tmp_path / "model"))  # the exported student
    assert model.config.model_type == "llava"
    assert (tmp_path / "COMPLETE").exists()
    # a rerun returns the saved summary without work
    monkeypatch.setattr(distill, "sample_teacher", lambda *a: pytest.fail("sampled again"))
    assert distill.run_distill(cfg) == summary


def test_rft_two_rounds(tmp_path, teacher):
    """The trained tiny model as its own teacher for two rounds; round 2 starts from round 1."""
    cfg = load_config(
        None,
        [f"run.out_dir={tmp_path}", f"model.name_or_path={teacher}", "distill.rounds=2",
         *SMALL, "distill.k=8", "sft.steps=2"],
    )  # fmt: skip
    summary = distill.run_rft(cfg)
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == [1, 2]
    assert [r["teacher"] for r in rounds] == [teacher, str(tmp_path / "round-1" / "model")]
    assert rounds[1]["student"] == rounds[1]["teacher"]  # continues from the previous round
    for r in (1, 2):
        rdir = tmp_path / f"round-{r}"
        kept = json.loads((rdir / "data" / "stats.json").read_text())["tasks"]["all"]["kept"]
        assert (
            rounds[r - 1]["data_kept"]
            == kept
            == len(read_jsonl(rdir / "data" / "train.jsonl").samples)
        )
        assert (rdir / "model" / "config.json").is_file() and (rdir / "COMPLETE").exists()
    assert summary["accuracy_before"] == rounds[0]["accuracy_before"]
    assert summary["accuracy_after"] == rounds[1]["accuracy_after"]
    # the two rounds drew different training problems
    ids = [
        {
            s.id.rsplit("-t", 1)[0]
            for s in read_jsonl(tmp_path / f"round-{r}" / "data" / "train.jsonl").samples
        }
        for r in (1, 2)
    ]  # the problem ids behind each round's rows
    assert not ids[0] & ids[1]
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "model" / "config.json").is_file() and (tmp_path / "COMPLETE").exists()


def test_rounds_need_the_policy_as_teacher(tmp_path):
    cfg = load_config(
        None, [f"run.out_dir={tmp_path}", "distill.name_or_path=x", "distill.rounds=2"]
    )
    with pytest.raises(ConfigError, match="distill.name_or_path to null"):
        distill.run_distill(cfg)
    with pytest.raises(ConfigError, match="own teacher"):
        distill.run_rft(cfg)


def test_cli_reports_a_teacher_that_never_succeeds_in_one_line(tmp_path, monkeypatch, capsys):
    from mmrft.cli import cmd_distill, main, parse_args

    args = parse_args(["rft", "my.yaml", "distill.rounds=3"])
    assert (args.func, args.command, args.overrides) == (cmd_distill, "rft", ["distill.rounds=3"])

    def no_traces(cfg):
        raise NoCorrectTraces(f"teacher {cfg.model.name_or_path!r} produced no correct trace")

    monkeypatch.setattr(distill, "run_rft", no_traces)
    (tmp_path / "c.yaml").write_text("model:\n  name_or_path: tiny-qwen2-vl\n")
    assert main(["rft", str(tmp_path / "c.yaml")]) == 2
    err = capsys.readouterr().err
    assert "mmrft: error: teacher 'tiny-qwen2-vl' produced no correct trace" in err
    assert "Traceback" not in err
