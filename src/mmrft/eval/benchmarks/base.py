"""The benchmark-loader contract: a local copy of a benchmark in its official layout -> Samples.

A loader reads the files a user downloaded (JSON/Parquet plus image folders or embedded images)
and returns one ``Sample`` per question:

* ``prompt`` — the question as the model should see it (options spelled out where the benchmark
  has them); ``images`` — the decoded images in prompt order; ``answer`` — the ground truth as a
  string (``meta["record"]["answer"]`` keeps the official type, e.g. a list or a box);
* ``meta["record"]`` — every field the benchmark's scorer reads, named as in the official data
  (``question_type``, ``answer_type``, ``choices``, ``precision``, ``box_format``, ...), minus
  ``prediction``: ``{**meta["record"], "prediction": text}`` is a line ``mmrft score`` accepts;
* ``meta["category"]`` — the breakdown key for per-category results (subject, skill, subtask).

Like ``read_jsonl``, a loader never raises on content: a bad row is skipped and recorded as
``(row, reason)``. A missing file or folder raises FileNotFoundError naming the path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from mmrft.data.sample import Sample
from mmrft.registry import Registry


@dataclass
class BenchmarkData:
    """What a loader read: the samples and the rows it skipped (``(row_id, reason)``)."""

    samples: list[Sample] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class Benchmark:
    """One benchmark: how to read its official layout and which scorer grades it."""

    name: ClassVar[str]
    scorer: ClassVar[str]
    """Key of ``mmrft.eval.scorers.SCORERS``."""
    description: ClassVar[str] = ""

    def load(self, path: str | Path, *, split: str | None = None) -> BenchmarkData:
        raise NotImplementedError


BENCHMARKS: Registry[type[Benchmark]] = Registry("benchmark")
