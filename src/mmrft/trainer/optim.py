"""Optimizer and learning-rate schedule shared by SFT, RL and preference training.

The schedules themselves are pure functions in ``mmrft.algorithms.lr_schedules`` (registry
``LR_SCHEDULES``); here one becomes a torch ``LambdaLR``. The scheduler's state (its step count) is checkpointed by the trainers, so a resumed run
continues the same curve.
"""

from __future__ import annotations

from functools import partial

import torch

from mmrft.algorithms.lr_schedules import LR_SCHEDULES


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
    bias_lr_scale: float = 1.0,
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over trainable parameters and a ``LambdaLR`` following ``LR_SCHEDULES[schedule]``
    (call ``sched.step()`` once per optimizer update). ``total_steps``: updates the decaying
    schedules reach ``min_lr_ratio * lr`` at. ``betas``: AdamW's moment decay rates.
    ``bias_lr_scale``: lr multiplier for parameters named ``bias`` / ``*.bias``; at 0 they
    are left out of the optimizer (frozen, no moment buffers)."""
    params = [p for p in model.parameters() if p.requires_grad]
    if bias_lr_scale != 1.0:
        named = [(n.rsplit(".", 1)[-1], p) for n, p in model.named_parameters() if p.requires_grad]
        params = [{"params": [p for leaf, p in named if leaf != "bias"]}]
        biases = [p for leaf, p in named if leaf == "bias"]
        if biases and bias_lr_scale > 0:
            params.append({"params": biases, "lr": lr * bias_lr_scale})
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, betas=betas)
    fn = partial(_factor, LR_SCHEDULES.get(schedule), warmup_steps, total_steps, min_lr_ratio)
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, fn)
