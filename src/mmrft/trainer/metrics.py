"""Per-step metrics: one JSON line per step in ``metrics.jsonl``, mirrored to TensorBoard."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class MetricsLogger:
    def __init__(self, path: str | Path, tensorboard_dir: str | Path | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        row = {"step": step, **{k: _clean(v) for k, v in metrics.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        if self.writer is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and v is not None:
                    self.writer.add_scalar(k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _clean(v: Any) -> Any:
    """JSON has no NaN/inf: write them as null so every line parses everywhere."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def truncate_jsonl(path: str | Path, max_step: int) -> None:
    """On resume, drop lines logged after the checkpoint so steps are not duplicated.

    A line that does not parse (the half-written last line of a killed run) is dropped with a
    warning naming the file and line, rather than stopping the resume.
    """
    path = Path(path)
    if not path.exists():
        return
    keep = []
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            step = row.get("step", 0)
        except (json.JSONDecodeError, AttributeError):
            log.warning("%s:%d: dropping an unreadable line (cut off mid-write?)", path, number)
            continue
        if isinstance(step, (int, float)) and step <= max_step:
            keep.append(line)
    path.write_text("".join(line + "\n" for line in keep))
