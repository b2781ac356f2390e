"""Training problems as a deterministic, resumable stream.

A stream either generates problems from a registered task (unlimited, seeded) or cycles a loaded
dataset, reshuffled each epoch with a seeded permutation. Its state — ``position`` (problems
served), the current difficulty ``level`` and the level policy's own state — is saved in
checkpoints, so a resumed run sees exactly the problems the uninterrupted run would have seen.

Two things ride on top, both optional:

* a **level policy** (``mmrft.tasks.curriculum``: a schedule over steps, or adaptive on the
  success rate) that the loop feeds each step's results through ``feedback``;
* **dropping saturated prompts** (``drop_after``): a prompt whose whole group was solved —
  or failed — ``drop_after`` visits in a row teaches nothing more and is skipped from then on;
* **screening** (``screen``, a dataset stream): a sample the model cannot encode is skipped
  from then on and reported through ``on_skip`` (``mmrft.data.screen``); each distinct sample
  is screened once, the first time it is served;
* **prefetching**: after serving a batch, one background thread generates the next one, so a
  step whose task renders slowly (matplotlib charts) never waits on generation. Prefetched
  problems are the same pure function of (index, level), so results do not change; a batch
  prefetched at a level that has since changed is thrown away and made again.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol

from mmrft.data.sample import Sample
from mmrft.data.seeds import sample_seeds


class LevelPolicy(Protocol):
    """Picks the difficulty of the next step's problems from this step's results."""

    level: int

    def next_level(self, step: int, successes: list[float]) -> int: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class ProblemStream:
    """``next_batch(k)`` returns the next k problems; ``position`` counts problems served."""

    def __init__(
        self, problem_at: Callable[[int, int], Sample], position: int = 0, level: int = 0
    ) -> None:
        self.problem_at = problem_at
        """``problem_at(index, level)``: a pure function of its arguments."""
        self.position = position
        self.level = level
        self.policy: LevelPolicy | None = None
        self.drop_after = 0
        """Skip a prompt after this many all-solved / all-failed visits in a row; 0 never."""
        self.saturated: set[str] = set()
        self._streak: dict[str, int] = {}
        self.size: int | None = None  # problems in one pass of a finite dataset
        self.samples: list[Sample] = []  # a dataset stream's samples, in file order
        self.name = "the dataset"  # for errors: the file a dataset stream was loaded from
        self.screen: Callable[[Sample], str | None] | None = None
        """``screen(sample)``: None if usable, else why not (the sample is then skipped)."""
        self.on_skip: Callable[[Sample, str], None] | None = None
        self.rejected: dict[int, str] = {}  # id(sample) -> reason; samples are long-lived
        self._admitted: set[int] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[int, int, int, Future] | None = None  # (start, k, level, future)

    # --- serving -------------------------------------------------------------------------
    def next_batch(self, k: int) -> list[Sample]:
        made = self._take_prefetched(k) or self._make(self.position, k, self.level)
        batch, self.position = made
        if self._pool is not None:  # start on the next batch while this one trains
            self._ahead = (
                self.position,
                k,
                self.level,
                self._pool.submit(self._make, self.position, k, self.level),
            )
        return batch

    def _make(self, start: int, k: int, level: int) -> tuple[list[Sample], int]:
        """``k`` problems from index ``start`` on, skipping saturated ones; and the next index."""
        if self.size == 0:
            raise ValueError(f"{self.name}: no samples to train on (every line was skipped?)")
        batch, i, skipped = [], start, 0
        while len(batch) < k:
            sample = self.problem_at(i, level)
            i += 1
            if sample.id in self.saturated or not self._usable(sample):
                skipped += 1
                if self.size is not None and skipped > self.size:
                    raise ValueError(self._none_left())
                continue
            batch.append(sample)
        return batch, i

    def _usable(self, sample: Sample) -> bool:
        """Screen ``sample`` the first time it is served (module note)."""
        key = id(sample)
        if self.screen is None or key in self._admitted:
            return True
        if key not in self.rejected:
            reason = self.screen(sample)
            if reason is None:
                self._admitted.add(key)
                return True
            self.rejected[key] = reason
            if self.on_skip is not None:
                self.on_skip(sample, reason)
        return False

    def _none_left(self) -> str:
        if self.rejected:
            return (
                f"{self.name}: no usable problem left: {len(self.rejected)} cannot be encoded "
                f"for this model (first: {next(iter(self.rejected.values()))}) and "
                f"{len(self.saturated)} are saturated; see skipped.jsonl in the run folder"
            )
        return (
            f"every problem of {self.name} is saturated (solved or failed by the "
            f"whole group {self.drop_after} times in a row); lower "
            "data.drop_saturated_after or add harder problems"
        )

    def _take_prefetched(self, k: int) -> list[Sample] | None:
        if self._ahead is None:
            return None
        (start, n, level, future), self._ahead = self._ahead, None
        made = future.result()  # always wait: the task objects are not shared across threads
        fresh = not any(s.id in self.saturated for s in made[0])
        return made if fresh and (start, n, level) == (self.position, k, self.level) else None

    def prefetch(self, enabled: bool = True) -> ProblemStream:
        """Generate each next batch in a background thread (see the module note)."""
        if enabled and self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="mmrft-prefetch")
        elif not enabled and self._pool is not None:
            self._take_prefetched(0)
            self._pool.shutdown()
            self._pool = None
        return self

    # --- curriculum ----------------------------------------------------------------------
    def feedback(self, step: int, successes: list[float], rows: list[Sample] | None = None) -> None:
        """This step's per-completion successes (in [0, 1]) and the sample behind each row:
        the level policy sets the next level; saturated prompts are marked for skipping."""
        if self.policy is not None:
            self.level = self.policy.next_level(step, successes)
        if self.drop_after and rows is not None:
            groups: dict[str, list[float]] = {}
            for sample, value in zip(rows, successes, strict=True):
                groups.setdefault(sample.id, []).append(value)
            for sid, values in groups.items():
                flat = min(values) >= 1.0 or max(values) <= 0.0
                self._streak[sid] = self._streak.get(sid, 0) + 1 if flat else 0
                if self._streak[sid] >= self.drop_after:
                    self.saturated.add(sid)

    # --- checkpointing -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "position": self.position,
            "level": self.level,
            "saturated": sorted(self.saturated),
            "streak": dict(self._streak),
        }
        if self.policy is not None:
            state["policy"] = self.policy.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._take_prefetched(0)  # whatever was made ahead belongs to the old position
        self.position, self.level = state["position"], state.get("level", self.level)
        self.saturated = set(state.get("saturated", ()))
        self._streak = dict(state.get("streak", {}))
        if self.policy is not None and "policy" in state:
            self.policy.load_state_dict(state["policy"])

    # --- constructors --------------------------------------------------------------------
    @classmethod
    def from_task(cls, task, base_seed: int, level: int) -> ProblemStream:
        """Problem i uses seed ``sample_seeds(base_seed, ...)[i]``: disjoint from other bases."""
        start = sample_seeds(base_seed, 1)[0]
        return cls(lambda i, lv: task.generate(start + i, lv), level=level)

    @classmethod
    def from_samples(cls, samples: list[Sample], seed: int, name: str = "") -> ProblemStream:
        """Cycle ``samples`` (the level does not apply to a fixed dataset); ``name`` (the file
        they came from) appears in errors. An empty dataset raises at the first batch, so the
        caller can first record why every line was skipped."""
        n = len(samples)
        orders: dict[int, list[int]] = {}

        def problem_at(i: int, level: int) -> Sample:
            epoch = i // n
            if epoch not in orders:
                order = list(range(n))
                random.Random(seed * 100_003 + epoch).shuffle(order)
                orders.clear()  # keep only the current epoch's permutation
                orders[epoch] = order
            return samples[orders[epoch][i % n]]

        stream = cls(problem_at)
        stream.size = len(samples)  # within this many skips in a row every sample was seen
        stream.name = name or stream.name
        stream.samples = samples
        return stream
