"""``mmrft-bench``: a built-in, contamination-free benchmark made of mmrft's procedural tasks.

Design note: public benchmarks leak into pre-training and RL data; problems generated from code
with seeds nobody trains on cannot. A suite version is a frozen manifest — for each entry the
task, its constructor kwargs, the level, the number of problems and the base seed — so anyone
regenerates exactly the same problems offline (``build_suite("v1")``) and scores them with each
task's own reward (its ``accuracy`` component). The base seeds (7_000_000 + entry) are far above
the seeds training uses (``run.seed * 10 + 1|2``) and the held-out ``data.eval_seed``
(1_000_000), so a model trained with mmrft never saw these problems.

Versioning rule: a version is its problems, not its manifest. ``fingerprint`` hashes every
sample's id, prompt, answer and image pixels, and tests/eval/test_suite.py pins the fingerprint
of the first problems of every entry. A change to any generator (or to a dependency that renders
differently, e.g. fonts or matplotlib) that alters a problem fails that test: then do not update
the pinned value of a released version — add a new version (``v2``) with its own pins, and keep
the old manifest so old numbers stay reproducible where the old code runs. ``results.json`` of
every suite run records the fingerprint, so two numbers compare only when it matches.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from typing import Any

from mmrft.data.sample import Sample
from mmrft.rewards import route_by_task
from mmrft.rewards.base import RewardFn
from mmrft.tasks import TASKS

SUITE_PREFIX = "mmrft-bench-"


@dataclasses.dataclass(frozen=True)
class SuiteEntry:
    """One block of problems: ``n`` problems of ``task`` at ``level`` from base seed ``seed``."""

    task: str
    level: int
    n: int
    seed: int
    kwargs: tuple[tuple[str, Any], ...] = ()
    """Task constructor kwargs, frozen here so a changed default cannot change the suite."""

    @property
    def category(self) -> str:
        return f"{self.task}/L{self.level}"


# Frozen: never edit a released version (see the versioning rule above).
MANIFESTS: dict[str, tuple[SuiteEntry, ...]] = {
    "v1": (
        SuiteEntry("count", 2, 100, 7_000_001, (("image_size", 112),)),
        SuiteEntry("count", 4, 100, 7_000_002, (("image_size", 112),)),
        SuiteEntry("grid_count", 2, 100, 7_000_003, (("image_size", 112),)),
        SuiteEntry("spatial", 2, 100, 7_000_004, (("image_size", 112),)),
        SuiteEntry("compare_count", 2, 100, 7_000_005, (("image_size", 112),)),
        SuiteEntry("clock", 2, 100, 7_000_006, (("image_size", 128),)),
        SuiteEntry("digits", 2, 100, 7_000_007, (("image_size", 112),)),
        SuiteEntry("ocr", 2, 100, 7_000_008, (("image_size", 224),)),
        SuiteEntry("chart", 2, 100, 7_000_009, (("image_size", 224),)),
    ),
}


def suite_names() -> list[str]:
    """Benchmark names of the built-in suites, e.g. ``["mmrft-bench-v1"]``."""
    return [SUITE_PREFIX + v for v in MANIFESTS]


def manifest(version: str) -> tuple[SuiteEntry, ...]:
    """The entries of ``version`` (``"v1"`` or ``"mmrft-bench-v1"``)."""
    key = version.removeprefix(SUITE_PREFIX)
    if key not in MANIFESTS:
        raise KeyError(f"unknown suite version {version!r}; known: {suite_names()}")
    return MANIFESTS[key]


def build_suite(
    version: str, *, per_entry: int | None = None, limit: int | None = None
) -> list[Sample]:
    """Every problem of the suite, entry by entry.

    ``per_entry`` keeps only each entry's first problems (the same problems the full suite
    starts with, since sample i has seed ``seed * SEED_STRIDE + i`` whatever n is). ``limit``
    caps the total, spread evenly: the first ``ceil(limit / entries)`` problems of each entry in
    manifest order until ``limit`` are taken, so a small limit still covers several tasks (and
    generates only what it returns). Each sample gets the id ``<task>-L<level>-<i>``,
    ``meta["category"] = "<task>/L<level>"`` and ``meta["suite"]``.
    """
    name = SUITE_PREFIX + version.removeprefix(SUITE_PREFIX)
    entries = manifest(version)
    if limit is not None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        spread = -(-limit // len(entries))
        per_entry = spread if per_entry is None else min(per_entry, spread)
    samples: list[Sample] = []
    for entry in entries:
        if limit is not None and len(samples) >= limit:
            break
        n = entry.n if per_entry is None else min(per_entry, entry.n)
        samples += entry_samples(entry, n, name)
    return samples if limit is None else samples[:limit]


def entry_samples(entry: SuiteEntry, n: int, suite: str) -> list[Sample]:
    """The first ``n`` problems of one manifest entry, with suite ids and category."""
    task = TASKS.get(entry.task)(**dict(entry.kwargs))
    task.check_level(entry.level)
    out = []
    for i, sample in enumerate(task.dataset(n, entry.seed, entry.level)):
        meta = {**sample.meta, "category": entry.category, "suite": suite}
        sample_id = f"{entry.task}-L{entry.level}-{i:04d}"
        out.append(dataclasses.replace(sample, id=sample_id, meta=meta))
    return out


def suite_reward(version: str) -> RewardFn:
    """The suite's scorer: each sample goes to its own task's reward."""
    return route_by_task({e.task: TASKS.get(e.task).reward_name for e in manifest(version)})


def fingerprint(samples: Iterable[Sample]) -> str:
    """sha256 over each sample's id, prompt, answer and images, in order.

    Each field is hashed as an 8-byte little-endian length followed by its bytes (UTF-8 for
    text); an image as its ``"<mode> <width>x<height>"`` header, then its raw pixel bytes
    (``Image.tobytes()``, independent of any file encoding).
    """
    h = hashlib.sha256()

    def put(data: bytes) -> None:
        h.update(len(data).to_bytes(8, "little"))
        h.update(data)

    for s in samples:
        for text in (s.id, s.prompt, s.answer):
            put(text.encode("utf-8"))
        for image in s.images:
            put(f"{image.mode} {image.width}x{image.height}".encode())
            put(image.tobytes())
    return h.hexdigest()
