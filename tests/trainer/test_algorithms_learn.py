"""Every advantage estimator and policy loss learns the digit-first task (slow: ~20 s each)."""

from __future__ import annotations

import pytest
from learn_utils import run_digit_task

CASES = [
    ("grpo", "ppo_clip", []),
    ("dr_grpo", "ppo_clip", ["algorithm.loss_agg_mode=seq-mean-token-sum-norm"]),
    ("rloo", "ppo_clip", []),
    ("reinforce_pp", "ppo_clip", ["algorithm.kl_coef=0.01", "algorithm.kl_in_reward=true"]),
    ("remax", "ppo_clip", []),
    ("grpo_passk", "ppo_clip", ["algorithm.passk_k=2"]),
    ("grpo", "gspo", ["algorithm.loss_agg_mode=seq-mean-token-mean"]),
    ("grpo", "cispo", []),
    ("grpo", "sapo", []),
    ("grpo", "pg", []),
    (
        "grpo",
        "ppo_clip",
        ["algorithm.ppo_epochs=2", "algorithm.mini_batches=2", "algorithm.dual_clip=3.0"],
    ),
    ("grpo", "ppo_clip", ["algorithm.kl_coef=0.02", "algorithm.kl_target=0.01"]),
    ("grpo", "ppo_clip", ["model.dtype=bfloat16"]),  # bf16 compute on float32 master weights
    # PPO with a learned critic: a separate copy of the policy, and a head on the shared trunk
    ("gae", "ppo_clip", ["critic.lr=1e-3"]),
    ("gae", "ppo_clip", ["critic.model=shared", "critic.lr=1e-3", "critic.warmup_steps=2"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("estimator", "loss", "extra"), CASES, ids=[f"{e}-{p}-{i}" for i, (e, p, _) in enumerate(CASES)]
)
def test_algorithm_learns_digit_task(tmp_path, estimator, loss, extra):
    rewards = run_digit_task(
        tmp_path,
        f"algorithm.adv_estimator={estimator}",
        f"algorithm.policy_loss={loss}",
        *extra,
        steps=60,
    )
    assert sum(rewards[:3]) / 3 < 0.2  # a random policy rarely starts with a digit
    assert max(sum(rewards[i : i + 5]) / 5 for i in range(len(rewards) - 4)) > 0.9
