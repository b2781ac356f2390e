"""What every stage command does first: the run directory, its config copy, the seed, the family.

Design note: each ``run_<stage>`` starts the same way (join torchrun's process group if there
is one, check the world size, create ``run.out_dir``, save ``config.yaml`` on rank 0, seed, and
read the model's family from its config before any weights load, so problems are built in its
box convention and image size), and a finished stage (``COMPLETE`` in its directory) returns its
saved summary without work. One function each, so the stages cannot drift apart.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from mmrft.config import Config, save_config
from mmrft.models.families import ModelFamily
from mmrft.models.loading import load_family
from mmrft.trainer.distributed import World, barrier, init_distributed, is_main
from mmrft.trainer.pipeline import seed_everything

MARKER = "COMPLETE"
"""Written last in a finished stage's directory."""


class StageStart(NamedTuple):
    """What ``begin_stage`` returns; unpacks as ``world, out, family, t_start``."""

    world: World
    out: Path
    family: ModelFamily
    """The model's family from its config alone (no weights loaded)."""
    t_start: float


def saved_summary(out: Path) -> dict | None:
    """A finished stage's ``summary.json`` (``{}`` if it wrote none); None when it must run."""
    if not (out / MARKER).exists():
        return None
    path = out / "summary.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def begin_stage(cfg: Config, check: Callable[[Config, int], None] | None = None) -> StageStart:
    """Start a stage of ``cfg``; ``check(cfg, world_size)`` runs before anything is written."""
    t_start = time.time()
    world = init_distributed(cfg.model.device)
    if check is not None:
        check(cfg, world.size)
    out = Path(cfg.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if world.is_main:
        save_config(cfg, out / "config.yaml")
    seed_everything(cfg.run.seed)
    family = load_family(
        cfg.model.name_or_path,
        seed=cfg.run.seed,
        min_pixels=cfg.model.min_pixels,
        max_pixels=cfg.model.max_pixels,
    )
    return StageStart(world, out, family, t_start)


def finish_stage(out: Path, summary: dict) -> dict:
    """Write ``summary.json`` then ``COMPLETE`` (rank 0), once every rank is done."""
    if is_main():
        out.mkdir(parents=True, exist_ok=True)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        (out / MARKER).write_text("")
    barrier()
    return summary
