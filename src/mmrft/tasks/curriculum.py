"""Curricula: a weighted mixture of tasks, and a difficulty level that rises with success.

Design note: both are plain logic with no trainer inside. ``TaskMixture`` looks like a
``Task`` to a data stream (``generate(seed, level)``, ``dataset``, ``levels``): a
``random.Random`` seeded from the sample seed picks the task by weight, and that task
generates the sample from the same seed, so a mixture is as deterministic as its parts.
Samples keep their own ``task`` name, and ``reward()`` routes each one to its task's reward
(``rewards.compose.route_by_task``). A task whose levels do not include the requested one gets
its nearest level.

``AdaptiveLevel`` is the rule "move up a level once the success rate over the last ``window``
results reaches ``promote_at``; move down if it falls to ``demote_at``" (0, the default,
never moves down). After a move the
window starts empty, so one lucky batch cannot skip two levels. It holds only the level and
the window, and ``update`` is deterministic.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task, sample_seeds


class TaskMixture:
    """Draw each sample from one of several tasks with the given weights.

    Args:
        weights: task name -> weight (> 0; normalised).
        task_kwargs: task name -> constructor kwargs.

    >>> mix = TaskMixture({"count": 3.0, "clock": 1.0})
    >>> [s.task for s in mix.dataset(6, seed=0)]
    ['clock', 'count', 'count', 'count', 'count', 'count']
    """

    name = "mixture"
    description = "A weighted mixture of tasks."

    def __init__(
        self, weights: Mapping[str, float], task_kwargs: Mapping[str, dict[str, Any]] | None = None
    ) -> None:
        if not weights or any(w <= 0 for w in weights.values()):
            raise ValueError(f"a mixture needs positive weights, got {dict(weights)}")
        kwargs = task_kwargs or {}
        unknown = set(kwargs) - set(weights)
        if unknown:
            raise ValueError(f"task_kwargs for tasks not in the mixture: {sorted(unknown)}")
        self.names = sorted(weights)
        self.tasks: dict[str, Task] = {n: TASKS.get(n)(**kwargs.get(n, {})) for n in self.names}
        total = sum(weights.values())
        self.cumulative = list(itertools.accumulate(weights[n] / total for n in self.names))
        self.levels = tuple(sorted({lv for t in self.tasks.values() for lv in t.levels}))

    def pick(self, seed: int) -> str:
        """The task that sample ``seed`` comes from."""
        u = random.Random(f"{self.name}/{seed}").random()
        return self.names[min(bisect.bisect_right(self.cumulative, u), len(self.names) - 1)]

    def generate(self, seed: int, level: int = 1) -> Sample:
        task = self.tasks[self.pick(seed)]
        nearest = min(task.levels, key=lambda lv: (abs(lv - level), lv))
        return task.generate(seed, nearest)

    def dataset(self, n: int, seed: int, level: int = 1) -> list[Sample]:
        return [self.generate(s, level) for s in sample_seeds(seed, n)]

    def reward(self):
        """One reward function that scores each sample with its own task's reward."""
        from mmrft.rewards.compose import route_by_task

        return route_by_task({n: t.reward_name for n, t in self.tasks.items()})


class AdaptiveLevel:
    """A difficulty level that follows the recent success rate (see the module note).

    >>> lv = AdaptiveLevel(levels=(1, 2, 3), window=4, promote_at=0.75, demote_at=0.25)
    >>> [lv.update([1, 1]), lv.update([1, 0]), lv.update([1, 1, 1, 1]), lv.update([0] * 4)]
    [1, 2, 3, 2]
    """

    def __init__(
        self,
        levels: Iterable[int] = (1, 2, 3, 4, 5),
        window: int = 64,
        promote_at: float = 0.8,
        demote_at: float = 0.0,
        start: int | None = None,
    ) -> None:
        self.levels = tuple(sorted(levels))
        if not self.levels or window < 1 or not 0.0 <= demote_at < promote_at <= 1.0:
            raise ValueError(
                "need levels, window >= 1 and 0 <= demote_at < promote_at <= 1, got "
                f"{self.levels}, {window}, {demote_at}, {promote_at}"
            )
        self.window, self.promote_at, self.demote_at = window, promote_at, demote_at
        self.index = self.levels.index(start) if start is not None else 0
        self.recent: deque[float] = deque(maxlen=window)

    @property
    def level(self) -> int:
        return self.levels[self.index]

    def update(self, successes: Iterable[float]) -> int:
        """Record results (1 = solved, 0 = not, or accuracies in [0, 1]); returns the level to
        use next. Checks happen only when the window is full."""
        for s in successes:
            self.recent.append(float(s))
            if len(self.recent) < self.window:
                continue
            rate = sum(self.recent) / self.window
            if rate >= self.promote_at and self.index < len(self.levels) - 1:
                self.index += 1
                self.recent.clear()
            elif rate <= self.demote_at and self.demote_at > 0 and self.index > 0:
                self.index -= 1
                self.recent.clear()
        return self.level

    # The stream's LevelPolicy interface (mmrft.data.stream).
    def next_level(self, step: int, successes: list[float]) -> int:
        return self.update(successes)

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index, "recent": list(self.recent)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.index = state["index"]
        self.recent = deque(state["recent"], maxlen=self.window)


class LevelSchedule:
    """Difficulty by RL step: ``[[0, 1], [100, 2]]`` is level 1 for steps 1-99, then level 2.

    >>> s = LevelSchedule([[100, 2], [0, 1], [200, 4]])
    >>> s.level, s.next_level(99, []), s.next_level(100, []), s.next_level(250, [])
    (1, 2, 2, 4)
    """

    def __init__(self, points: Iterable[Iterable[int]]) -> None:
        pairs = sorted((int(a), int(b)) for a, b in points)
        if not pairs or pairs[0][0] > 1:
            raise ValueError(f"a level schedule must start at step 0 or 1, got {pairs}")
        self.steps = [s for s, _ in pairs]
        self.values = [lv for _, lv in pairs]
        self.level = self.level_at(1)

    def level_at(self, step: int) -> int:
        return self.values[max(bisect.bisect_right(self.steps, step) - 1, 0)]

    def next_level(self, step: int, successes: list[float]) -> int:
        """The level of step ``step + 1`` (results do not matter to a schedule)."""
        self.level = self.level_at(step + 1)
        return self.level

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
