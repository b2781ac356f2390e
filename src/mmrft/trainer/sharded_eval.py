"""Held-out evaluation split across torchrun ranks: each rank generates for its share only.

Design note: rank r takes the contiguous block ``problems[r*m : (r+1)*m]`` with
``m = ceil(n / world)``; the per-problem values are gathered in rank order, so the merged
result lists the problems in their original order and equals one rank's evaluation of all of
them wherever decoding is deterministic (greedy accuracy, greedy texts; sampled draws come from
each rank's own generator, so sampled accuracy is an equally valid, not an identical, estimate).

Under FSDP2 every forward pass is a collective, so every rank must make the same number of
``generate`` calls with the same number of rows: the last ranks' shorter blocks are padded with
copies of their first problem, and the padding is dropped before the merge. In one process
this is exactly ``evaluate``.
"""

from __future__ import annotations

from mmrft.data.sample import Sample
from mmrft.eval.harness import EvalResult, evaluate, first_problems, merge_results
from mmrft.rewards.base import RewardFn
from mmrft.trainer.distributed import all_gather_objects, rank, world_size


def shard_bounds(n: int, world: int, r: int) -> tuple[int, int]:
    """``[start, stop)`` of rank ``r``'s block of ``n`` problems, blocks of ``ceil(n/world)``.

    >>> [shard_bounds(5, 2, r) for r in range(2)]
    [(0, 3), (3, 5)]
    >>> shard_bounds(1, 3, 2)  # more ranks than problems: an empty block
    (1, 1)
    """
    per = -(-n // world)
    return min(n, r * per), min(n, (r + 1) * per)


def evaluate_sharded(sampler, samples: list[Sample], reward_fn: RewardFn, **options) -> EvalResult:
    """``evaluate`` (same ``options``) with the problems split across ranks; every rank
    returns the merged result for all of ``samples``."""
    world = world_size()
    if world == 1 or not samples:
        return evaluate(sampler, samples, reward_fn, **options)
    start, stop = shard_bounds(len(samples), world, rank())
    block = samples[start:stop]
    per = -(-len(samples) // world)
    padded = block + [block[0] if block else samples[0]] * (per - len(block))  # equal calls
    mine = first_problems(evaluate(sampler, padded, reward_fn, **options), len(block))
    return merge_results(all_gather_objects(mine))
