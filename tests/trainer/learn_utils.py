"""A fast sanity task for "does this algorithm learn at all": emit a digit first.

A random tiny text LM puts about 10/512 of its mass on the ten digit tokens, so the mean reward
starts near 0.02; every correct algorithm drives it above 0.9 within a few dozen steps.
"""

from __future__ import annotations

import json

import torch

from mmrft.build import make_objective, make_sampler
from mmrft.config import load_config
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.trainer.rl import train_rl


def components(cfg, model, family) -> dict:
    """What ``mmrft.build.run`` hands ``train_rl`` besides the config: the bound RL math and the
    rollout engine."""
    return {
        "objective": make_objective(cfg.algorithm),
        "sampler": make_sampler(cfg.rollout, model, family),
    }


def digit_first_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    return {"overall": [float(c[:1].isdigit()) for c in completions]}


def train_tiny_qwen2(cfg, stream, reward_fn, seed: int = 0) -> torch.nn.Module:
    """``train_rl`` on a fresh tiny-qwen2 (seed ``seed``), with a reference copy when the
    config asks for a KL; returns the trained model."""
    model, tok = load_policy("tiny-qwen2", seed=seed)
    family = family_for(model.config.model_type, tok)
    ref = None
    if cfg.algorithm.kl_coef > 0 or cfg.rl.track_kl:
        ref, _ = load_policy("tiny-qwen2", seed=seed)
    train_rl(
        cfg,
        model,
        tok,
        family,
        stream=stream,
        reward_fn=reward_fn,
        eval_samples=[],
        ref_model=ref,
        **components(cfg, model, family),
    )
    return model


def run_digit_task(tmp_path, *overrides: str, steps: int = 40, seed: int = 0) -> list[float]:
    """Train tiny-qwen2 on the digit task; return the per-step mean reward."""
    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path}",
            f"rl.steps={steps}",
            "rl.lr=2e-3",
            "rollout.prompts_per_step=8",
            "rollout.group_size=8",
            "rollout.max_new_tokens=2",
            "run.tensorboard=false",
            "run.save_every=1000",
            "rl.eval_every=1000",
            *overrides,
        ],
    )
    torch.manual_seed(seed)
    stream = ProblemStream(
        lambda i, lv: Sample(id=str(i), prompt=f"Say something #{i % 7}.", answer="")
    )
    train_tiny_qwen2(cfg, stream, digit_first_reward, seed)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    return [r["reward/mean"] for r in rows]
