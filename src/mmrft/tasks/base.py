"""The Task interface: a procedural problem generator driven by an explicit seed.

Design note: a task is a small object that turns ``(seed, level)`` into one ``Sample`` and
names the reward that verifies it (``reward_name``, a key of ``mmrft.rewards.REWARDS``). The
same object serves training data, held-out evaluation and the demo, so there is exactly one
definition of a problem. Generation must be a pure function of ``(constructor kwargs, seed,
level)``: no global RNG, no clock, integer pixel coordinates, so the same seed always gives a
byte-identical image.

Seeds: ``dataset(n, seed, level)`` gives sample ``i`` the seed ``seed * SEED_STRIDE + i``
(see ``sample_seeds``). Two datasets built from different base seeds therefore never share a
per-sample seed as long as each holds fewer than ``SEED_STRIDE`` samples: a train set from seed
0 and a held-out set from seed 10_000 are disjoint by construction.

Add a task by subclassing and registering it::

    @TASKS.register("mytask")
    class MyTask(Task):
        name = "mytask"
        description = "One line saying what the model must do."
        reward_name = "myreward"

        def generate(self, seed: int, level: int = 1) -> Sample: ...

Config builds it with keyword arguments: ``TASKS.get("mytask")(image_size=224)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from mmrft.data.sample import Sample
from mmrft.data.seeds import SEED_STRIDE, sample_seeds
from mmrft.registry import Registry

__all__ = ["SEED_STRIDE", "TASKS", "Task", "sample_seeds"]


class Task(ABC):
    """A seeded generator of ``Sample``s plus the name of the reward that verifies them.

    Subclasses set the three class attributes and implement ``generate``; constructor keyword
    arguments (image size, object sizes, ...) come straight from config.
    """

    name: ClassVar[str] = ""
    """Registry key; also written to ``Sample.task``."""
    description: ClassVar[str] = ""
    """One line saying what the model must do (shown in docs and the CLI)."""
    reward_name: ClassVar[str] = ""
    """Key in ``mmrft.rewards.REWARDS`` of the reward that scores completions for this task."""
    levels: ClassVar[tuple[int, ...]] = (1,)
    """Difficulty levels ``generate`` accepts, easiest first."""

    @abstractmethod
    def generate(self, seed: int, level: int = 1) -> Sample:
        """One sample, a pure function of ``seed`` and ``level`` (and constructor kwargs)."""

    def dataset(self, n: int, seed: int, level: int = 1) -> list[Sample]:
        """``n`` samples whose seeds come from ``sample_seeds(seed, n)``."""
        return [self.generate(s, level) for s in sample_seeds(seed, n)]

    def check_level(self, level: int) -> None:
        """Raise a ValueError naming the valid levels when ``level`` is not one of them."""
        if level not in self.levels:
            raise ValueError(f"task {self.name!r} has levels {list(self.levels)}, got {level}")


TASKS: Registry[type[Task]] = Registry("task")
