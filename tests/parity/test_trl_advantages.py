"""GRPO advantages and token entropy against TRL's own helpers.

TRL computes GRPO advantages inline in ``_generate_and_score_completions`` (which needs a
model and reward functions), so the reference here is its formula rebuilt from TRL's own
``nanstd``: (r - mean_group) / (nanstd_group + 1e-4). ``nanstd`` is Bessel-corrected, the
same unbiased std as ``torch.std`` that ``grpo_advantages`` uses; only the epsilon differs
(TRL 1e-4, ours 1e-6 like verl), hence ``eps=1e-4`` below.
"""

from __future__ import annotations

import pytest
import torch

from mmrft.algorithms import entropy_from_logits, grpo_advantages

trl_utils = pytest.importorskip("trl.trainer.utils")


@pytest.mark.parametrize("group_size", [2, 4, 8])
def test_grpo_advantages_match_trl_formula(group_size):
    rewards = torch.rand(4 * group_size, generator=torch.Generator().manual_seed(group_size))
    grouped = rewards.view(-1, group_size)  # [B, G]
    mean = torch.nanmean(grouped, dim=1).repeat_interleave(group_size)  # [N]
    std = trl_utils.nanstd(grouped, dim=1).repeat_interleave(group_size)  # [N]
    expected = (rewards - mean) / (std + 1e-4)  # TRL scale_rewards="group"
    torch.testing.assert_close(grpo_advantages(rewards, group_size, eps=1e-4), expected)


def test_entropy_matches_trl():
    logits = torch.randn(3, 5, 11, generator=torch.Generator().manual_seed(0)) * 3  # [N, L, V]
    torch.testing.assert_close(entropy_from_logits(logits), trl_utils.entropy_from_logits(logits))
