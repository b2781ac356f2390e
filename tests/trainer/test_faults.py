"""Faults and resume: signals write a checkpoint, unreadable files are named, unsafe ones refused."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
import torch
from learn_utils import components
from test_rl import _cfg, length_reward

from mmrft.cli import main
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS
from mmrft.trainer.checkpoint import (
    STATE_FILE,
    UnsafeCheckpointError,
    list_checkpoints,
    resume_checkpoint,
    save_checkpoint,
)
from mmrft.trainer.metrics import truncate_jsonl
from mmrft.trainer.rl import train_rl
from mmrft.trainer.sft import train_sft
from mmrft.trainer.signals import RunInterrupted, StopOnSignal


def _steps(path: Path) -> list[int]:
    return [json.loads(line)["step"] for line in path.read_text().splitlines()]


def _tiny():
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    return model, processor, family_for(model.config.model_type, processor)


# ---------------------------------------------------------------- the state file is data only
class Evil:
    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):  # unpickling this would create a folder: code run from a data file
        return (os.makedirs, (self.target,))


def test_a_state_file_that_would_run_code_is_refused_by_name(tmp_path):
    ckpt = tmp_path / "checkpoints" / "step_000001"
    ckpt.mkdir(parents=True)
    pwned = tmp_path / "pwned"
    torch.save({"step": 1, "rng": torch.get_rng_state(), "x": Evil(str(pwned))}, ckpt / STATE_FILE)
    (ckpt / "COMPLETE").write_text("1")
    with pytest.raises(UnsafeCheckpointError, match=str(ckpt / STATE_FILE)):
        resume_checkpoint(tmp_path, torch.nn.Linear(1, 1))
    assert not pwned.exists()


def test_a_corrupt_newest_checkpoint_is_named_and_the_previous_one_used(tmp_path, caplog):
    model, processor, _ = _tiny()
    first = next(model.parameters())
    save_checkpoint(tmp_path, 1, model, processor, {"note": "one"})
    saved = first.detach().clone()
    with torch.no_grad():
        first.add_(1.0)
    newest = save_checkpoint(tmp_path, 2, model, processor, {"note": "two"})
    (newest / STATE_FILE).write_bytes((newest / STATE_FILE).read_bytes()[:100])  # cut off
    with torch.no_grad():
        first.add_(5.0)
    path, state = resume_checkpoint(tmp_path, model)
    assert path.name == "step_000001" and state["note"] == "one" and state["step"] == 1
    assert torch.equal(first, saved)
    assert str(newest / STATE_FILE) in caplog.text


def test_a_cut_off_last_line_is_dropped_with_a_warning(tmp_path, caplog):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "a": 1}\n{"step": 2, "a": 2}\n{"step": 3, "a": "unterminat')
    truncate_jsonl(path, 2)
    assert _steps(path) == [1, 2]
    assert f"{path}:3" in caplog.text


# ---------------------------------------------------------------- signals
def test_stop_on_signal_records_the_signal_and_restores_the_handler():
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignal() as stop:
        os.kill(os.getpid(), signal.SIGTERM)  # without the context: the process would die
        assert stop.requested and stop.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) == before  # a second signal acts at once
    err = stop.interrupted(Path("ck"))
    assert err.exit_code == 143 and "SIGTERM" in str(err) and "ck" in str(err)


def _signal_on_call(n: int, fn):
    """``fn`` that sends this process SIGTERM on its ``n``-th call."""
    calls = []

    def wrapped(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            os.kill(os.getpid(), signal.SIGTERM)
        return fn(*args, **kwargs)

    return wrapped


def test_sigterm_during_rl_writes_a_checkpoint_and_a_rerun_resumes(tmp_path):
    cfg = _cfg(tmp_path, "rl.steps=3", "run.save_every=100")
    stream = ProblemStream.from_task(TASKS.get("count")(), 5, 2)

    def train(reward):
        torch.manual_seed(0)
        model, processor, family = _tiny()
        return train_rl(
            cfg, model, processor, family, stream=stream, reward_fn=reward, eval_samples=[],
            **components(cfg, model, family),
        )  # fmt: skip

    with pytest.raises(RunInterrupted) as info:
        train(_signal_on_call(2, length_reward))  # during step 2's rollout
    assert info.value.exit_code == 143 and info.value.checkpoint.name == "step_000002"
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step_000002"]
    assert _steps(tmp_path / "metrics.jsonl") == [1, 2]
    assert train(length_reward).last_step == 3
    assert _steps(tmp_path / "metrics.jsonl") == [1, 2, 3]


def test_rerun_without_checkpoint_writes_step_0_once_and_skips_cut_lines(tmp_path):
    # A run killed after its step-0 eval, mid-line, before its first checkpoint:
    (tmp_path / "evals.jsonl").write_text('{"step": 0, "accuracy": 0.5}\n{"step": 1, "acc')
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "reward/mean": 0.1}\n{"step"')
    cfg = _cfg(tmp_path, "rl.steps=1", "data.eval_size=2", "eval.n_samples=1")
    model, processor, family = _tiny()
    stream = ProblemStream.from_task(TASKS.get("count")(), 5, 2)
    evals = TASKS.get("count")().dataset(2, seed=99, level=2)
    train_rl(cfg, model, processor, family, stream=stream, reward_fn=length_reward,
             eval_samples=evals, **components(cfg, model, family))  # fmt: skip
    assert _steps(tmp_path / "evals.jsonl") == [0, 1]
    assert _steps(tmp_path / "metrics.jsonl") == [1]


class _SignalStream(ProblemStream):
    """A task stream that sends SIGTERM while serving its ``at``-th batch."""

    at = 0

    def next_batch(self, k):
        self.served = getattr(self, "served", 0) + 1
        if self.served == self.at:
            os.kill(os.getpid(), signal.SIGTERM)
        return super().next_batch(k)


def _sft(out_dir, at=0):
    model, processor, family = _tiny()
    task = TASKS.get("count")()
    stream = _SignalStream(lambda i, lv: task.generate(1000 + i, lv), level=1)
    stream.at = at
    kwargs = dict(steps=4, batch_size=2, lr=1e-3, out_dir=out_dir, processor=processor)
    return model, train_sft(model, family, stream, **kwargs)


def test_sigterm_during_sft_checkpoints_and_the_rerun_matches_an_uninterrupted_one(tmp_path):
    straight, straight_history = _sft(tmp_path / "a")
    with pytest.raises(RunInterrupted) as info:
        _sft(tmp_path / "b", at=2)
    assert info.value.checkpoint == tmp_path / "b" / "checkpoints" / "step_000002"
    resumed, history = _sft(tmp_path / "b")
    assert [h["loss"] for h in history] == pytest.approx([h["loss"] for h in straight_history])
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_cli_exits_with_128_plus_signal_and_says_where_the_checkpoint_is(monkeypatch, capsys):
    import mmrft.build as build

    def stopped(cfg):
        raise RunInterrupted(signal.SIGINT, Path("runs/x/checkpoints/step_000003"))

    monkeypatch.setattr(build, "run", stopped)
    assert main(["demo", "--out", "unused"]) == 130
    err = capsys.readouterr().err
    assert "SIGINT" in err and "runs/x/checkpoints/step_000003" in err and "resume" in err
