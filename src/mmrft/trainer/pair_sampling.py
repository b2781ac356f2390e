"""Preference pairs built from the policy's own rollouts, ranked by the verifiable reward.

Each prompt gets ``group_size`` sampled completions, scored by the task reward; the pure
``mmrft.data.pairs.pair_completions`` then pairs correct completions (highest reward first) with
incorrect ones (at random), at most ``pairs_per_prompt`` per prompt. Prompts the policy always
or never solves give no pair and are counted in the returned statistics.
"""

from __future__ import annotations

import random

import torch

from mmrft.data.pairs import Pair, pair_completions
from mmrft.data.sample import Sample
from mmrft.rewards.base import RewardFn, safe_reward
from mmrft.rollout.base import SamplingParams


def sample_pairs(
    sampler,
    prompts: list[Sample],
    reward_fn: RewardFn,
    *,
    group_size: int,
    pairs_per_prompt: int,
    temperature: float = 1.0,
    max_new_tokens: int = 16,
    seed: int = 0,
) -> tuple[list[Pair], dict[str, float]]:
    """Sample ``group_size`` completions of every prompt and pair them (module note).

    Returns the pairs (prompt order, then rank order) and statistics: ``prompts``,
    ``prompts_paired``, ``prompts_all_correct``, ``prompts_all_wrong``, ``pairs``,
    ``sampled_accuracy`` (mean accuracy of all sampled completions) and ``reward_failures``.
    Torch's RNG is restored afterwards, so building pairs does not shift later sampling.
    """
    rng_state = torch.get_rng_state()
    batch = sampler.generate(
        prompts,
        SamplingParams(
            n=group_size, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
        ),
    )
    torch.set_rng_state(rng_state)
    rows = [prompts[i] for i in batch.sample_index]
    scores, failed = safe_reward(reward_fn, batch.texts, rows)
    accuracy = scores.get("accuracy", scores["overall"])
    groups: dict[int, list[int]] = {}
    for row, index in enumerate(batch.sample_index):
        groups.setdefault(index, []).append(row)
    rng = random.Random(seed)
    pairs: list[Pair] = []
    stats = {"prompts": len(prompts), "prompts_paired": 0, "prompts_all_correct": 0}
    stats["prompts_all_wrong"] = 0
    for index, members in sorted(groups.items()):
        acc = [accuracy[r] for r in members]
        found = pair_completions(
            [batch.texts[r] for r in members],
            [scores["overall"][r] for r in members],
            acc,
            pairs_per_prompt,
            rng,
        )
        if found:
            stats["prompts_paired"] += 1
        elif all(a >= 0.5 for a in acc):
            stats["prompts_all_correct"] += 1
        elif all(a < 0.5 for a in acc):
            stats["prompts_all_wrong"] += 1
        for c, r in found:
            pairs.append(Pair(prompts[index], batch.texts[members[c]], batch.texts[members[r]]))
    stats["pairs"] = len(pairs)
    stats["sampled_accuracy"] = sum(accuracy) / max(len(accuracy), 1)
    stats["reward_failures"] = failed
    return pairs, stats
