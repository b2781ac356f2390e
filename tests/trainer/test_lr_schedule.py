"""RL learning-rate schedules (``mmrft.trainer.optim``) against hand-computed values, driven the
way the trainers drive them (one ``sched.step()`` per update), and kept across a resume."""

from __future__ import annotations

import math

import pytest
import torch

from mmrft.config import load_config
from mmrft.dataclass_yaml import ConfigError
from mmrft.trainer.optim import make_optimizer


def _lrs(n: int, **kwargs) -> list[float]:
    """The learning rate each of the first ``n`` updates runs with."""
    opt, sched = make_optimizer(torch.nn.Linear(2, 2), 1e-3, 0.0, **kwargs)
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def test_constant_without_warmup_is_flat():
    assert _lrs(5) == pytest.approx([1e-3] * 5)


def test_constant_with_warmup_rises_linearly_then_holds():
    # update u of 4 warm-up updates runs at u/4 * lr: 0.25, 0.5, 0.75, 1.0, then 1.0
    lrs = _lrs(6, warmup_steps=4)
    assert lrs == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])


def test_cosine_hand_computed():
    # warm-up 2, total 6, min ratio 0.1: updates 1, 2 -> 0.5, 1.0; then p = (u - 2) / 4 for
    # u = 3..6 -> p = 0.25, 0.5, 0.75, 1 -> factor 0.1 + 0.9 * (1 + cos(pi p)) / 2
    #   p=0.25: 0.1 + 0.45 * (1 + 0.70711) = 0.868198
    #   p=0.5:  0.1 + 0.45 * 1              = 0.55
    #   p=0.75: 0.1 + 0.45 * (1 - 0.70711) = 0.231802
    #   p=1:    0.1                         (the last update runs at min_lr_ratio * lr)
    # and past total_steps it stays there.
    lrs = _lrs(8, warmup_steps=2, schedule="cosine", total_steps=6, min_lr_ratio=0.1)
    want = [0.5, 1.0, 0.868198, 0.55, 0.231802, 0.1, 0.1, 0.1]
    assert lrs == pytest.approx([1e-3 * w for w in want], rel=1e-5)


def test_cosine_without_warmup_starts_at_lr_and_ends_at_zero():
    # total 4, no warm-up: p = u / 4 -> (1 + cos(pi p)) / 2 = 0.853553, 0.5, 0.146447, 0
    lrs = _lrs(4, schedule="cosine", total_steps=4, min_lr_ratio=0.0)
    assert lrs == pytest.approx([8.53553e-4, 5e-4, 1.46447e-4, 0.0], abs=1e-9)
    assert lrs[1] == pytest.approx(1e-3 * (1 + math.cos(math.pi / 2)) / 2)


def test_resumed_scheduler_continues_the_same_curve():
    kwargs = dict(warmup_steps=2, schedule="cosine", total_steps=6, min_lr_ratio=0.1)
    opt, sched = make_optimizer(torch.nn.Linear(2, 2), 1e-3, 0.0, **kwargs)
    for _ in range(3):
        opt.step()
        sched.step()
    # what the RL checkpoint stores: the optimizer (its param groups hold the current lr) and
    # the scheduler (its step count)
    opt_state, sched_state = opt.state_dict(), sched.state_dict()
    opt2, sched2 = make_optimizer(torch.nn.Linear(2, 2), 1e-3, 0.0, **kwargs)
    opt2.load_state_dict(opt_state)
    sched2.load_state_dict(sched_state)
    lrs = []
    for _ in range(3):
        lrs.append(opt2.param_groups[0]["lr"])
        opt2.step()
        sched2.step()
    # updates 4, 5, 6 as in an unbroken run (p = 0.5, 0.75, 1)
    assert lrs == pytest.approx([0.55e-3, 0.231802e-3, 0.1e-3], rel=1e-5)


def test_config_keys_and_checks():
    cfg = load_config(None, ["rl.lr_schedule=cosine", "rl.warmup_steps=20", "rl.min_lr_ratio=0.2"])
    assert (cfg.rl.lr_schedule, cfg.rl.warmup_steps, cfg.rl.min_lr_ratio) == ("cosine", 20, 0.2)
    with pytest.raises(ConfigError, match="lr_schedule"):
        load_config(None, ["rl.lr_schedule=cosin"])
    with pytest.raises(ConfigError, match="min_lr_ratio"):
        load_config(None, ["rl.min_lr_ratio=1.5"])


def test_adam_beta2_reaches_the_optimizer():
    opt, _ = make_optimizer(torch.nn.Linear(2, 2), 1e-3, 0.0, betas=(0.9, 0.99))
    assert opt.param_groups[0]["betas"] == (0.9, 0.99)
    assert load_config(None, ["rl.adam_beta2=0.95"]).rl.adam_beta2 == 0.95
    with pytest.raises(ConfigError, match="adam_beta2"):
        load_config(None, ["rl.adam_beta2=1.0"])
