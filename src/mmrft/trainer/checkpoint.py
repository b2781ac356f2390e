"""Checkpoints that a crashed run resumes from: weights, optimizer, step, data position, RNG.

Layout: ``out_dir/checkpoints/step_000050/`` holds the model and processor (``save_pretrained``,
so any checkpoint is also a loadable model; for a LoRA policy, only the adapters) and
``trainer_state.pt``. A ``COMPLETE`` marker is
written last: a checkpoint interrupted mid-save is never picked up for resuming.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"
MARKER = "COMPLETE"


def checkpoint_dir(out_dir: str | Path, step: int) -> Path:
    return Path(out_dir) / "checkpoints" / f"step_{step:06d}"


def save_checkpoint(
    out_dir: str | Path, step: int, model, processor, state: dict[str, Any], keep_last: int = 2
) -> Path:
    """Write checkpoint ``step`` and delete all but the newest ``keep_last`` complete ones."""
    path = checkpoint_dir(out_dir, step)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    torch.save({**state, "step": step, "rng": torch.get_rng_state()}, path / STATE_FILE)
    (path / MARKER).write_text(str(step))
    for old in list_checkpoints(out_dir)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return path


def list_checkpoints(out_dir: str | Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = Path(out_dir) / "checkpoints"
    if not root.exists():
        return []
    return sorted(p for p in root.glob("step_*") if (p / MARKER).exists())


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    found = list_checkpoints(out_dir)
    return found[-1] if found else None


def restore_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load checkpoint ``path``'s weights into ``model`` in place (adapters only for LoRA)."""
    from peft import PeftModel, set_peft_model_state_dict
    from safetensors.torch import load_file

    if isinstance(model, PeftModel):
        set_peft_model_state_dict(model, load_file(Path(path) / "adapter_model.safetensors"))
    else:
        model.load_state_dict(type(model).from_pretrained(path).state_dict())


def load_trainer_state(path: str | Path) -> dict[str, Any]:
    """The saved state; restores torch's RNG so sampling continues as if uninterrupted."""
    state = torch.load(Path(path) / STATE_FILE, weights_only=False)
    torch.set_rng_state(state.pop("rng"))
    log.info("resuming from %s (step %d)", path, state["step"])
    return state
