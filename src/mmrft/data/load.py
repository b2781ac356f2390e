"""One entry point for every dataset file: JSONL, Parquet, or a ``datasets`` folder on disk.

Design note: the three formats hold the same fields (``mmrft.data.rows``), so they differ only
in how rows are read; each row then goes through the same ``sample_from_row`` and the same
skip-and-record rule as ``read_jsonl``. Arrow-backed formats are read in record batches and
turned into plain Python rows (``to_pylist``), so ``datasets.Image`` columns arrive as their
raw ``{"bytes", "path"}`` structs and each image is decoded (and a broken one caught) per row
rather than by ``datasets`` for the whole table. A bad row is recorded by its 0-based index,
``(i, "row i: reason")``, the index ``table.slice(i, 1)`` / ``dataset[i]`` would give.

What the path is decides the reader:

* ``*.jsonl`` file -> ``read_jsonl`` (image paths relative to the file's folder);
* ``*.parquet`` file -> pyarrow (image paths relative to the file's folder);
* a folder written by ``datasets.Dataset.save_to_disk`` (it holds ``state.json``) ->
  ``datasets.load_from_disk`` (image paths relative to the folder that holds it, as for a file).
  A ``DatasetDict`` folder (``dataset_dict.json``) names its splits in the error: load one
  split's subfolder.

Only a missing path, an unknown kind of path or a file that cannot be opened at all raises.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mmrft.data.jsonl import read_jsonl
from mmrft.data.rows import BadLine, LoadResult, sample_from_row, warn_skipped

logger = logging.getLogger(__name__)

BATCH_ROWS = 256  # rows converted to Python at a time: bounds memory on large image tables


def load_dataset_file(
    path: str | Path, *, allow_outside_paths: bool = False, max_pixels: int | None = None
) -> LoadResult:
    """Load every good row of a JSONL / Parquet file or ``datasets`` folder (see the module note).

    A row whose image or audio path resolves outside the folder that holds ``path`` is skipped
    unless ``allow_outside_paths`` (``data.allow_outside_paths``; ``mmrft.data.rows``).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    if path.is_dir():
        return _load_rows(path, _dataset_rows(path), allow_outside_paths, max_pixels)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return read_jsonl(path, allow_outside_paths=allow_outside_paths, max_pixels=max_pixels)
    if suffix == ".parquet":
        return _load_rows(path, _parquet_rows(path), allow_outside_paths, max_pixels)
    raise ValueError(
        f"{path}: unknown dataset kind {suffix!r}; expected a .jsonl or .parquet file or a "
        "folder written by datasets.Dataset.save_to_disk"
    )


def _load_rows(
    path: Path, rows: Iterator[dict[str, Any]], allow_outside: bool, max_pixels: int | None
) -> LoadResult:
    """Every row through ``sample_from_row``; images resolve beside ``path``."""
    result = LoadResult()
    root = path.parent
    for index, row in enumerate(rows):
        try:
            result.samples.append(
                sample_from_row(row, root, allow_outside=allow_outside, max_pixels=max_pixels)
            )
        except BadLine as e:
            reason = f"row {index}: {e}"
            result.skipped.append((index, reason))
            logger.debug("%s: skipped %s", path, reason)
    warn_skipped(logger, path, result)
    return result


def _require(module: str, purpose: str):
    """Import an optional dependency, or say which package to install."""
    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ImportError(f"{purpose} needs {package!r}: pip install {package}") from None


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    pa = _require("pyarrow", "reading Parquet")
    pq = _require("pyarrow.parquet", "reading Parquet")

    try:
        reader = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as e:
        raise ValueError(f"{path}: not a readable Parquet file ({e})") from None
    for batch in reader.iter_batches(batch_size=BATCH_ROWS):
        yield from batch.to_pylist()


def _dataset_rows(path: Path) -> Iterator[dict[str, Any]]:
    if (path / "dataset_dict.json").is_file():
        splits = sorted(p.name for p in path.iterdir() if (p / "state.json").is_file())
        raise ValueError(
            f"{path} holds a DatasetDict with splits {splits}; load one split's folder, "
            f"e.g. {path / (splits[0] if splits else 'train')}"
        )
    if not (path / "state.json").is_file():
        raise ValueError(
            f"{path}: a folder but not one written by datasets.Dataset.save_to_disk (no state.json)"
        )
    datasets = _require("datasets", "reading a save_to_disk folder")
    table = datasets.load_from_disk(str(path)).with_format("arrow")
    for start in range(0, len(table), BATCH_ROWS):
        yield from table[start : start + BATCH_ROWS].to_pylist()
