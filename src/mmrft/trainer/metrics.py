"""Per-step metrics: one JSON line per step in ``metrics.jsonl``, mirrored to TensorBoard and,
optionally, Weights & Biases."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class MetricsLogger:
    """Appends one JSON row per step to ``path``; mirrors the numbers to TensorBoard and W&B.

    ``rows`` holds every row of ``path`` (those already there on resume, then each logged one),
    so the training-health checks can compare a step with the run's history.
    """

    def __init__(
        self,
        path: str | Path,
        tensorboard_dir: str | Path | None = None,
        wandb_project: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = _read_rows(self.path)
        self.writer = None
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(tensorboard_dir))
        self.wandb = None if wandb_project is None else _start_wandb(wandb_project, self.path)

    def log(self, step: int, metrics: dict[str, Any]) -> None:
        row = {"step": step, **{k: _clean(v) for k, v in metrics.items()}}
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
        self.rows.append(row)
        numbers = {  # lists (health/warnings) and nulls stay in metrics.jsonl only
            k: v
            for k, v in row.items()
            if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)
        }
        if self.writer is not None:
            for k, v in numbers.items():
                self.writer.add_scalar(k, v, step)
        if self.wandb is not None:
            self.wandb.log(numbers, step=step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.wandb is not None:
            self.wandb.finish()
            self.wandb = None


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON objects already in ``path`` (none if absent); unreadable lines are skipped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _start_wandb(project: str, metrics_path: Path) -> Any:
    """A W&B run for the run directory holding ``metrics_path``, resumed if it has one.

    The run id is kept in ``wandb_run_id`` next to metrics.jsonl, so rerunning the same command
    after a stop continues the same W&B run; config.yaml, when present, is its config.
    """
    try:
        import wandb
    except ImportError as e:
        raise ImportError(
            "run.wandb_project is set but wandb is not installed: pip install wandb "
            "(or set run.wandb_project=null)"
        ) from e
    import uuid

    import yaml

    run_dir = metrics_path.parent
    id_file = run_dir / "wandb_run_id"
    if not id_file.is_file():
        id_file.write_text(uuid.uuid4().hex[:12] + "\n")  # W&B ids: [a-z0-9]
    config_file = run_dir / "config.yaml"
    config = yaml.safe_load(config_file.read_text()) if config_file.is_file() else None
    return wandb.init(
        project=project,
        name=run_dir.resolve().name,
        id=id_file.read_text().strip(),
        resume="allow",
        dir=str(run_dir),
        config=config if isinstance(config, dict) else None,
    )


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
