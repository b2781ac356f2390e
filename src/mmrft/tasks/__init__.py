"""Procedural task generators; importing this package registers the built-in tasks."""

from mmrft.tasks import counting
from mmrft.tasks.base import SEED_STRIDE, TASKS, Task, sample_seeds
from mmrft.tasks.counting import CountingTask

__all__ = ["SEED_STRIDE", "TASKS", "CountingTask", "Task", "counting", "sample_seeds"]
