"""rl.bias_lr_scale: bias vectors step at a fraction of lr, or not at all (0).

AdamW's first step moves every coordinate by exactly lr * sign(grad) (m_hat / sqrt(v_hat) =
g / |g|), which gives the hand-computed values below.
"""

from __future__ import annotations

import pytest
import torch
from learn_utils import train_tiny_qwen2

from mmrft.config import ConfigError, load_config
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models import load_policy
from mmrft.trainer.optim import make_optimizer


def first_step(scale: float, lr: float = 1e-2) -> tuple[torch.nn.Linear, dict, dict]:
    """One AdamW step of a Linear(3, 2) on a fixed loss: (layer, grads, params before)."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(3, 2)
    before = {n: p.detach().clone() for n, p in layer.named_parameters()}
    opt, sched = make_optimizer(layer, lr, 0.0, bias_lr_scale=scale)
    layer(torch.tensor([[1.0, -2.0, 0.5]])).pow(2).sum().backward()
    grads = {n: p.grad.clone() for n, p in layer.named_parameters()}
    opt.step()
    sched.step()
    return layer, grads, before


def test_a_scaled_bias_steps_a_fraction_of_lr():
    layer, g, before = first_step(0.1)
    assert (g["weight"] != 0).all() and (g["bias"] != 0).all()
    moved_w = layer.weight.detach() - before["weight"]
    moved_b = layer.bias.detach() - before["bias"]
    # abs: float32 rounding of p + step
    assert moved_w == pytest.approx(-1e-2 * g["weight"].sign(), abs=1e-7)
    assert moved_b == pytest.approx(-1e-3 * g["bias"].sign(), abs=1e-7)


def test_a_zero_scale_freezes_biases_and_keeps_no_state_for_them():
    layer, _, before = first_step(0.0)
    assert torch.equal(layer.bias.detach(), before["bias"])
    assert not torch.equal(layer.weight.detach(), before["weight"])
    opt, _ = make_optimizer(layer, 1e-2, 0.0, bias_lr_scale=0.0)
    assert [len(g["params"]) for g in opt.param_groups] == [1]  # the weight only


def test_the_bias_group_follows_the_schedule():
    opt, sched = make_optimizer(torch.nn.Linear(2, 2), 1e-3, 0.0, warmup_steps=4, bias_lr_scale=0.5)
    seen = []
    for _ in range(5):
        seen.extend(g["lr"] for g in opt.param_groups)
        opt.step()
        sched.step()
    # warm-up: update u of 4 runs at u/4 * lr; the bias group at half of that
    assert seen == pytest.approx(
        [2.5e-4, 1.25e-4, 5e-4, 2.5e-4, 7.5e-4, 3.75e-4, 1e-3, 5e-4, 1e-3, 5e-4]
    )


def parity_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """A reward that varies within groups of a random model's completions."""
    return {"overall": [float(sum(map(ord, c)) % 2) for c in completions]}


def test_rl_with_frozen_biases_moves_weights_only_and_resumes(tmp_path):
    start, _ = load_policy("tiny-qwen2", seed=0)  # what train_tiny_qwen2 starts from
    start = {n: p.detach().clone() for n, p in start.named_parameters()}

    def train(steps: int):
        cfg = load_config(
            None,
            [
                f"run.out_dir={tmp_path}",
                f"rl.steps={steps}",
                "rl.lr=2e-3",
                "rl.bias_lr_scale=0",
                "rollout.prompts_per_step=4",
                "rollout.group_size=4",
                "rollout.max_new_tokens=2",
                "run.tensorboard=false",
                "run.save_every=2",
                "rl.eval_every=1000",
            ],
        )
        stream = ProblemStream(lambda i, lv: Sample(id=str(i), prompt=f"Say #{i % 5}.", answer=""))
        model = train_tiny_qwen2(cfg, stream, parity_reward)
        return dict(model.named_parameters())

    end = train(2)
    biases = [n for n in start if n.endswith(".bias")]
    assert biases  # Qwen2's q/k/v projections carry biases
    assert all(torch.equal(start[n], end[n].detach()) for n in biases)
    assert any(not torch.equal(start[n], end[n].detach()) for n in start if n not in biases)
    end = train(4)  # resumes from the step-2 checkpoint, optimizer groups included
    assert all(torch.equal(start[n], end[n].detach()) for n in biases)


def test_a_negative_scale_is_rejected():
    with pytest.raises(ConfigError, match="rl.bias_lr_scale"):
        load_config(None, ["rl.bias_lr_scale=-1"])
