"""Learning-rate schedules: pure functions ``(update, warmup_steps, total_steps, min_lr_ratio)
-> factor`` of the 1-based number of the optimizer update about to run; that update's learning
rate is ``lr * factor``. Every schedule shares the same linear warm-up (``update /
warmup_steps`` for the first ``warmup_steps`` updates), so ``warmup_steps`` means the same thing
in each. ``mmrft.trainer.optim`` turns one into a torch scheduler; a new schedule registers here.
"""

from __future__ import annotations

import math

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
