"""``mmrft plan``: per-device memory of a run before launch, from the model's config.json only.

shapes.py  config.json -> ModelShape -> exact parameter counts (no weights, no torch)
memory.py  the memory formulas per component and phase, what fits, the largest micro-batch
report.py  Config -> Setup, the rich table and the JSON of ``mmrft plan``
measure.py measured peak memory of one update step on a CPU (benchmarks and tests)
"""

from mmrft.plan.memory import GIB, MemoryPlan, Setup, plan_memory
from mmrft.plan.shapes import ModelShape, count_params, load_model_config, shape_from_config

__all__ = [
    "GIB",
    "MemoryPlan",
    "ModelShape",
    "Setup",
    "count_params",
    "load_model_config",
    "plan_memory",
    "shape_from_config",
]
