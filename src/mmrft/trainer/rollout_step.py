"""The sampling side of one RL step: prompts -> scored groups, with DAPO's dynamic sampling.

Returns every row's reward components and the rows' samples. With ``dynamic`` on, groups whose
rewards are all equal carry no advantage (and no gradient), so they are dropped and more prompts
are drawn — at most ``max_tries`` rounds — until ``n_groups`` informative groups are kept.
``oversample`` draws that many times the missing groups per round (surplus informative groups
are dropped), so one generate call usually fills the step: on a small model a round costs
about as much whatever its size, and late in training most groups are flat.
With ``greedy_baseline`` (ReMax) each kept prompt is also decoded greedily and that reward is the
baseline its group is compared against.

Under torchrun every rank needs ``n_groups`` of its own, and the ranks must stay in step: they
share one problem stream (each draw takes the same count on every rank) and the update's
collectives need the same number of rows everywhere. So each round draws what the neediest rank
still lacks, on every rank, and ends when no rank lacks any; a rank keeps at most its quota.
If rounds run out first, every rank trains on as many groups as the rank with the fewest kept
(or, when some rank kept none, every rank on its last round's groups). In one process this is
plain DAPO dynamic sampling.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch

from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.rewards.base import RewardFn, safe_reward
from mmrft.rollout.base import RolloutBatch, SamplingParams, concat_batches
from mmrft.trainer.distributed import all_gather_objects


@dataclass
class ScoredRollouts:
    batch: RolloutBatch
    rows: list[Sample]
    """The sample behind each row (N entries, group-contiguous)."""
    scores: dict[str, list[float]]
    """Reward components per row; "overall" is what trains."""
    baseline: torch.Tensor | None = None
    """[N] greedy-decoding reward of each row's prompt (ReMax), else None."""
    metrics: dict[str, float] = field(default_factory=dict)


def constant_groups(overall: list[float], group_size: int) -> list[bool]:
    """Per group: are all its rewards equal? (such a group has zero advantage)

    >>> constant_groups([1, 1, 0, 1, 0.5, 0.5], 2)
    [True, False, True]
    """
    groups = [overall[i : i + group_size] for i in range(0, len(overall), group_size)]
    return [max(g) - min(g) < 1e-9 for g in groups]


def collect_rollouts(
    sampler,
    stream: ProblemStream,
    reward_fn: RewardFn,
    params: SamplingParams,
    n_groups: int,
    *,
    dynamic: bool = False,
    max_tries: int = 1,
    oversample: float = 1.0,
    greedy_baseline: bool = False,
) -> ScoredRollouts:
    G = params.n
    t_roll = t_reward = 0.0
    kept: list[tuple[RolloutBatch, list[Sample], dict[str, list[float]]]] = []
    n_kept = n_failed = n_dropped = tries = 0
    while tries < (max_tries if dynamic else 1):
        need = n_groups - n_kept
        if dynamic:  # the neediest rank's shortfall, so every rank draws the same count
            need = max(all_gather_objects(need))
        if need == 0:
            break
        tries += 1
        t0 = time.perf_counter()
        samples = stream.next_batch(math.ceil(need * oversample) if dynamic else need)
        batch = sampler.generate(samples, params)
        t1 = time.perf_counter()
        rows = [samples[i] for i in batch.sample_index]
        scores, failed = safe_reward(reward_fn, batch.texts, rows)
        t_roll, t_reward, n_failed = (
            t_roll + t1 - t0,
            t_reward + time.perf_counter() - t1,
            n_failed + failed,
        )
        keep_rows = list(range(len(rows)))
        if dynamic:
            flat = constant_groups(scores["overall"], G)
            keep_rows = [r for r in keep_rows if not flat[r // G]]
            keep_rows = keep_rows[: (n_groups - n_kept) * G]  # this rank's quota, no more
            n_dropped += sum(flat)
        if keep_rows:
            kept.append(
                (
                    batch.subset(keep_rows),
                    [rows[r] for r in keep_rows],
                    {k: [v[r] for r in keep_rows] for k, v in scores.items()},
                )
            )
            n_kept += len(keep_rows) // G
    fewest = min(all_gather_objects(n_kept)) if dynamic else n_kept  # the same rows on every rank
    if fewest == 0:  # a rank found only constant groups: train on the last (zero-advantage) batch
        kept = [(batch, rows, scores)]
    elif fewest < n_kept:
        kept, n_kept = _first_groups(kept, fewest * G), fewest
    batch = concat_batches([b for b, _, _ in kept])
    rows = [s for _, r, _ in kept for s in r]
    scores = {k: [v for _, _, sc in kept for v in sc[k]] for k in kept[0][2]}
    baseline = None
    if greedy_baseline:
        t0 = time.perf_counter()
        prompts = rows[::G]
        greedy = sampler.generate(
            prompts, SamplingParams(n=1, temperature=0.0, max_new_tokens=params.max_new_tokens)
        )
        g_scores, _ = safe_reward(reward_fn, greedy.texts, prompts)
        baseline = torch.tensor(g_scores["overall"]).repeat_interleave(G)  # [N]
        t_roll += time.perf_counter() - t0
    metrics = {"time/rollout": t_roll, "time/reward": t_reward, "reward/failures": n_failed}
    if dynamic:
        metrics.update(
            {
                "sampling/tries": tries,
                "sampling/kept_groups": n_kept,
                "sampling/dropped_groups": n_dropped,
            }
        )
    return ScoredRollouts(batch, rows, scores, baseline, metrics)


def _first_groups(
    kept: list[tuple[RolloutBatch, list[Sample], dict[str, list[float]]]], n_rows: int
) -> list[tuple[RolloutBatch, list[Sample], dict[str, list[float]]]]:
    """The first ``n_rows`` rows of the kept rounds (whole groups: ``n_rows`` is a multiple of G)."""
    out = []
    for batch, rows, scores in kept:
        take = min(n_rows, len(rows))
        if take == 0:
            break
        keep = list(range(take))
        out.append((batch.subset(keep), rows[:take], {k: v[:take] for k, v in scores.items()}))
        n_rows -= take
    return out
