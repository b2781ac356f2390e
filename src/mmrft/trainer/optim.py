"""Optimizer and learning-rate schedule shared by SFT, RL and preference training.

A schedule is a pure function ``(update, warmup_steps, total_steps, min_lr_ratio) -> factor``
of the 1-based number of the optimizer update about to run; the learning rate of that update
is ``lr * factor``. Every schedule shares the same linear warm-up (``update / warmup_steps``
for the first ``warmup_steps`` updates), so ``warmup_steps`` means the same thing in each.
The scheduler's state (its step count) is checkpointed by the trainers, so a resumed run
continues the same curve.
"""

from __future__ import annotations

import math
from functools import partial

import torch

from mmrft.registry import Registry

LR_SCHEDULES: Registry = Registry("lr schedule")


@LR_SCHEDULES.register("constant")
def constant_schedule(
    update: int, warmup_steps: int, total_steps: int, min_lr_ratio: float
) -> float:
    """``lr`` after the warm-up, for ever (``total_steps`` and ``min_lr_ratio`` unused)."""
    return min(1.0, update / max(warmup_steps, 1))


@LR_SCHEDULES.register("cosine")
def cosine_schedule(update: int, warmup_steps: int, total_steps: int, min_lr_ratio: float) -> float:
    """Half a cosine from ``lr`` after the warm-up down to ``min_lr_ratio * lr`` at update
    ``total_steps`` (Loshchilov & Hutter, SGDR): factor = m + (1 - m) * (1 + cos(pi * p)) / 2
    with p = (update - warmup) / (total - warmup), clamped to [0, 1]."""
    if update <= warmup_steps:
        return update / warmup_steps
    p = min(1.0, (update - warmup_steps) / max(total_steps - warmup_steps, 1))
    return min_lr_ratio + (1.0 - min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * p))


def _factor(schedule, warmup_steps: int, total_steps: int, min_lr_ratio: float, done: int) -> float:
    # LambdaLR passes the number of updates already done; the next one is done + 1.
    return schedule(done + 1, warmup_steps, total_steps, min_lr_ratio)


def make_optimizer(
    model: torch.nn.Module,
    lr: float,
    weight_decay: float,
    warmup_steps: int = 0,
    *,
    schedule: str = "constant",
    total_steps: int = 0,
    min_lr_ratio: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over trainable parameters and a ``LambdaLR`` following ``LR_SCHEDULES[schedule]``
    (call ``sched.step()`` once per optimizer update). ``total_steps``: updates the decaying
    schedules reach ``min_lr_ratio * lr`` at. ``betas``: AdamW's moment decay rates."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    fn = partial(_factor, LR_SCHEDULES.get(schedule), warmup_steps, total_steps, min_lr_ratio)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, fn)
