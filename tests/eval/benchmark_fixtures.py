"""Helpers for the benchmark-loader tests: tiny images and files in the official schemas."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from mmrft.data.sample import Sample
from mmrft.eval.scorers import score_record


def png(path: Path, size: tuple[int, int], color: str = "red") -> Path:
    """A solid ``size`` = (width, height) PNG at ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def png_bytes(size: tuple[int, int], color: str = "blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def hf_image(size: tuple[int, int], name: str = "x.png") -> dict[str, Any]:
    """A Hugging Face ``Image`` cell as stored in Parquet: ``{"bytes", "path"}``."""
    return {"bytes": png_bytes(size), "path": name}


def write_parquet(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sizes(sample: Sample) -> list[tuple[int, int]]:
    return [im.size for im in sample.images]


def score(name: str, sample: Sample, prediction: str) -> float:
    """What the scorer ``name`` gives ``prediction`` on the loader's record (official mode)."""
    return score_record(name, {**sample.meta["record"], "prediction": prediction})["score"]


def by_id(samples: list[Sample]) -> dict[str, Sample]:
    return {s.id: s for s in samples}
