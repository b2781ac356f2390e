"""Loaders for local copies of public VLM benchmarks, in their official layouts.

``load_benchmark("mathvista", "/data/MathVista")`` reads the files a user downloaded and
returns ``BenchmarkData`` (samples + skipped rows); ``BENCHMARKS.get(name).scorer`` names the
``mmrft.eval.scorers`` scorer that grades it. docs/eval.md ("Loaders") lists every layout read,
where to get it, the prompt template and the category key.

>>> sorted(BENCHMARKS)[:3]
['chartqa', 'count', 'gqa']
"""

from __future__ import annotations

from pathlib import Path

from mmrft.eval.benchmarks import (  # noqa: F401  (registration side effects)
    chartqa,
    count,
    gqa,
    mathverse,
    mathvision,
    mathvista,
    mme,
    mme_reasoning,
    mmmu,
    refcoco,
    screenspot,
    vstar,
)
from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData

__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkData", "load_benchmark"]


def load_benchmark(name: str, path: str | Path, split: str | None = None) -> BenchmarkData:
    """Read the local copy of benchmark ``name`` at ``path`` (a file or a folder)."""
    return BENCHMARKS.get(name)().load(path, split=split)
