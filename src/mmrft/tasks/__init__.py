"""Procedural task generators; importing this package registers the built-in tasks."""

from mmrft.tasks import (
    audio,
    charts,
    clevr,
    counting,
    detection,
    digits,
    geometry,
    grounding,
    gym,
    logic_puzzles,
    logic_puzzles_hashi,
    logic_puzzles_sums,
    maze,
    multi_image,
    ocr,
    paths,
    puzzles,
    spatial,
    video,
)
from mmrft.tasks.base import SEED_STRIDE, TASKS, Task, sample_seeds
from mmrft.tasks.charts import ChartTask
from mmrft.tasks.clevr import ClevrTask
from mmrft.tasks.counting import CountingTask
from mmrft.tasks.curriculum import AdaptiveLevel, TaskMixture
from mmrft.tasks.detection import DetectionTask
from mmrft.tasks.digits import DigitsTask
from mmrft.tasks.geometry import GeometryTask
from mmrft.tasks.grounding import GroundingTask
from mmrft.tasks.gym import GymTask
from mmrft.tasks.logic_puzzles import SkyscraperTask, SudokuTask
from mmrft.tasks.logic_puzzles_hashi import HashiTask
from mmrft.tasks.logic_puzzles_sums import MagicSumTask, Points24Task
from mmrft.tasks.maze import MazeTask
from mmrft.tasks.multi_image import CompareCountTask
from mmrft.tasks.ocr import OCRTask
from mmrft.tasks.paths import GridPathsTask
from mmrft.tasks.puzzles import ClockTask, GridCountTask
from mmrft.tasks.spatial import SpatialTask
from mmrft.tasks.video import MotionTask

__all__ = [
    "SEED_STRIDE",
    "AdaptiveLevel",
    "TASKS",
    "ChartTask",
    "ClevrTask",
    "ClockTask",
    "CompareCountTask",
    "CountingTask",
    "DetectionTask",
    "DigitsTask",
    "GeometryTask",
    "GridCountTask",
    "GridPathsTask",
    "GroundingTask",
    "GymTask",
    "HashiTask",
    "MagicSumTask",
    "MazeTask",
    "MotionTask",
    "OCRTask",
    "Points24Task",
    "SkyscraperTask",
    "SpatialTask",
    "SudokuTask",
    "Task",
    "TaskMixture",
    "audio",
    "charts",
    "clevr",
    "counting",
    "detection",
    "digits",
    "geometry",
    "grounding",
    "gym",
    "logic_puzzles",
    "logic_puzzles_hashi",
    "logic_puzzles_sums",
    "maze",
    "multi_image",
    "ocr",
    "paths",
    "puzzles",
    "sample_seeds",
    "spatial",
    "video",
]
