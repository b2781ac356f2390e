"""Training problems as a deterministic, resumable stream: its whole state is one integer.

A stream either generates problems from a registered task (unlimited, seeded) or cycles a loaded
dataset, reshuffled each epoch with a seeded permutation. ``position`` is saved in checkpoints, so
a resumed run sees exactly the problems the uninterrupted run would have seen.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from mmrft.data.sample import Sample
from mmrft.tasks.base import sample_seeds


class ProblemStream:
    """``next_batch(k)`` returns the next k problems; ``position`` counts problems served."""

    def __init__(self, problem_at: Callable[[int], Sample], position: int = 0) -> None:
        self.problem_at = problem_at
        self.position = position

    def next_batch(self, k: int) -> list[Sample]:
        batch = [self.problem_at(self.position + i) for i in range(k)]
        self.position += k
        return batch

    @classmethod
    def from_task(cls, task, base_seed: int, level: int) -> ProblemStream:
        """Problem i uses seed ``sample_seeds(base_seed, ...)[i]``: disjoint from other bases."""
        start = sample_seeds(base_seed, 1)[0]
        return cls(lambda i: task.generate(start + i, level))

    @classmethod
    def from_samples(cls, samples: list[Sample], seed: int) -> ProblemStream:
        if not samples:
            raise ValueError("cannot train on an empty dataset (every line was skipped?)")
        n = len(samples)
        orders: dict[int, list[int]] = {}

        def problem_at(i: int) -> Sample:
            epoch = i // n
            if epoch not in orders:
                order = list(range(n))
                random.Random(seed * 100_003 + epoch).shuffle(order)
                orders.clear()  # keep only the current epoch's permutation
                orders[epoch] = order
            return samples[orders[epoch][i % n]]

        return cls(problem_at)
