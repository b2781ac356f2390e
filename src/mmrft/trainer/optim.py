"""Optimizer and learning-rate schedule shared by SFT and RL."""

from __future__ import annotations

import torch


def make_optimizer(
    model: torch.nn.Module, lr: float, weight_decay: float, warmup_steps: int = 0
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over trainable parameters, with linear warm-up then a constant rate."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    warm = max(warmup_steps, 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, (step + 1) / warm))
    return opt, sched
