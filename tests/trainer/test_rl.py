"""The GRPO loop on the tiny model: it updates, logs finite numbers, and resumes exactly."""

from __future__ import annotations

import json
import math

import pytest
import torch
from learn_utils import components

from mmrft.config import load_config
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS
from mmrft.trainer.checkpoint import list_checkpoints
from mmrft.trainer.rl import train_rl


def _cfg(tmp_path, *extra):
    return load_config(
        None,
        [
            f"run.out_dir={tmp_path}",
            "rollout.prompts_per_step=2",
            "rollout.group_size=4",
            "rollout.max_new_tokens=6",
            "rl.eval_every=100",
            "run.tensorboard=false",
            "rl.lr=1e-3",
            *extra,
        ],
    )


def length_reward(completions, samples):
    """Varies within every group even for a random policy, so advantages are non-zero."""
    return {"overall": [len(c) / 50 for c in completions]}


def _run(cfg, seed=0):
    torch.manual_seed(seed)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = family_for(model.config.model_type, processor)
    stream = ProblemStream.from_task(TASKS.get("count")(), 5, 2)
    result = train_rl(
        cfg, model, processor, family, stream=stream, reward_fn=length_reward, eval_samples=[],
        **components(cfg, model, family),
    )  # fmt: skip
    return model, result


def test_two_steps_change_parameters_and_log_finite_metrics(tmp_path):
    cfg = _cfg(tmp_path, "rl.steps=2")
    before, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    model, result = _run(cfg)
    changed = [
        n
        for (n, p), q in zip(model.named_parameters(), before.parameters(), strict=True)
        if not torch.equal(p, q)
    ]
    assert len(changed) > 0.9 * len(list(model.parameters()))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        for key in (
            "reward/mean",
            "actor/loss",
            "actor/entropy",
            "response_length/mean",
            "time/rollout",
            "time/reward",
            "time/update",
            "throughput/rollout_tokens_per_s",
        ):
            assert math.isfinite(r[key]), key
    assert result.last_step == 2


def test_logged_lr_is_the_rate_of_that_steps_update(tmp_path):
    # cosine, 2 warm-up updates of 3, min ratio 0.1, lr 1e-3 (algorithms/lr_schedules.py):
    #   update 1: warm-up 1/2             -> 5e-4
    #   update 2: warm-up 2/2             -> 1e-3
    #   update 3: p = (3 - 2) / (3 - 2) = 1 -> 0.1 + 0.9 * (1 + cos(pi)) / 2 = 0.1 -> 1e-4
    # (logging after sched.step() would give the next update's rate: 1e-3, 1e-4, 1e-4)
    over = ["rl.steps=3", "rl.warmup_steps=2", "rl.lr_schedule=cosine", "rl.min_lr_ratio=0.1"]
    _run(_cfg(tmp_path, *over))
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert [r["lr"] for r in rows] == pytest.approx([5e-4, 1e-3, 1e-4], rel=1e-6)


def test_kl_to_reference_is_zero_at_start_and_logged(tmp_path):
    cfg = _cfg(tmp_path, "rl.steps=1", "algorithm.kl_coef=0.1")
    torch.manual_seed(0)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    ref, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    family = family_for(model.config.model_type, processor)
    stream = ProblemStream.from_task(TASKS.get("count")(), 5, 2)
    train_rl(
        cfg,
        model,
        processor,
        family,
        stream=stream,
        reward_fn=length_reward,
        eval_samples=[],
        ref_model=ref,
        **components(cfg, model, family),
    )
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    assert abs(row["actor/kl"]) < 1e-6  # policy == reference at the only forward pass


def test_resume_after_crash_matches_uninterrupted_run(tmp_path):
    straight, _ = _run(_cfg(tmp_path / "a", "rl.steps=4", "run.save_every=2"))
    # "crash" after step 2, then rerun the same command with the full step count
    _run(_cfg(tmp_path / "b", "rl.steps=2", "run.save_every=2"))
    assert [p.name for p in list_checkpoints(tmp_path / "b")] == ["step_000002"]
    resumed, result = _run(_cfg(tmp_path / "b", "rl.steps=4", "run.save_every=2"), seed=123)
    assert result.last_step == 4
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)
    steps = [
        json.loads(line)["step"]
        for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert steps == [1, 2, 3, 4]


def test_multiple_epochs_and_minibatches_run(tmp_path):
    cfg = _cfg(tmp_path, "rl.steps=1", "algorithm.ppo_epochs=2", "algorithm.mini_batches=2")
    _run(cfg)
    row = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])
    # later mini-batches see a policy that moved: ratios leave 1
    assert row["actor/ratio_max"] > 1.0 or row["actor/ratio_min"] < 1.0


def test_train_inference_gap_is_logged_and_tis_runs(tmp_path):
    _run(_cfg(tmp_path / "exact", "rl.steps=1"))
    exact = json.loads((tmp_path / "exact" / "metrics.jsonl").read_text().splitlines()[0])
    assert exact["rollout/logp_abs_diff_max"] < 1e-4  # the HF engine samples what we train
    # top-k sampling is a different distribution from the trainer's full softmax: a real gap
    _run(_cfg(tmp_path / "topk", "rl.steps=1", "rollout.top_k=5", "algorithm.tis_cap=2.0"))
    topk = json.loads((tmp_path / "topk" / "metrics.jsonl").read_text().splitlines()[0])
    assert topk["rollout/logp_abs_diff_mean"] > 0.5 and topk["rollout/mismatch_kl"] > 0
    assert math.isfinite(topk["actor/loss"])
