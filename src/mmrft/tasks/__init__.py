"""Procedural task generators; importing this package registers the built-in tasks."""

from mmrft.tasks import charts, counting, digits, grounding, multi_image, ocr, puzzles, spatial
from mmrft.tasks.base import SEED_STRIDE, TASKS, Task, sample_seeds
from mmrft.tasks.charts import ChartTask
from mmrft.tasks.counting import CountingTask
from mmrft.tasks.curriculum import AdaptiveLevel, TaskMixture
from mmrft.tasks.digits import DigitsTask
from mmrft.tasks.grounding import GroundingTask
from mmrft.tasks.multi_image import CompareCountTask
from mmrft.tasks.ocr import OCRTask
from mmrft.tasks.puzzles import ClockTask, GridCountTask
from mmrft.tasks.spatial import SpatialTask

__all__ = [
    "SEED_STRIDE",
    "AdaptiveLevel",
    "TASKS",
    "ChartTask",
    "ClockTask",
    "CompareCountTask",
    "CountingTask",
    "DigitsTask",
    "GridCountTask",
    "GroundingTask",
    "OCRTask",
    "SpatialTask",
    "Task",
    "TaskMixture",
    "charts",
    "counting",
    "digits",
    "grounding",
    "multi_image",
    "ocr",
    "puzzles",
    "sample_seeds",
    "spatial",
]
