"""Checkpoints that a crashed run resumes from: weights, optimizer, step, data position, RNG.

Layout: ``out_dir/checkpoints/step_000050/`` holds the model and processor (``save_pretrained``,
so any checkpoint is also a loadable model; for a LoRA policy, only the adapters) and
``trainer_state.pt``. A ``COMPLETE`` marker is
written last: a checkpoint interrupted mid-save is never picked up for resuming.

The state file holds tensors and plain data only and is read with ``weights_only=True``: a run
directory is data, and unpickling arbitrary objects from it could run code. A state file that
names any other object is refused (``UnsafeCheckpointError``, naming the file) rather than
skipped. A complete checkpoint whose files cannot be read (truncated, overwritten) is reported
by path and the previous complete one is used (``resume_checkpoint``).
"""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path
from typing import Any

import torch

from mmrft.trainer.dist_checkpoint import Extra, load_full_extra, restore, save_sharded
from mmrft.trainer.distributed import barrier, is_distributed, is_main

log = logging.getLogger(__name__)

STATE_FILE = "trainer_state.pt"
MARKER = "COMPLETE"


class UnsafeCheckpointError(RuntimeError):
    """A state file holding objects other than tensors and plain data (possibly crafted)."""


class CorruptCheckpointError(RuntimeError):
    """A complete-marked checkpoint whose files cannot be read back."""


def checkpoint_dir(out_dir: str | Path, step: int) -> Path:
    return Path(out_dir) / "checkpoints" / f"step_{step:06d}"


def save_checkpoint(
    out_dir: str | Path,
    step: int,
    model,
    processor,
    state: dict[str, Any],
    keep_last: int = 2,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    extra: Extra | None = None,
) -> Path:
    """Write checkpoint ``step`` and delete all but the newest ``keep_last`` complete ones.

    ``optimizer``: the policy's, saved beside its weights; ``extra``: other trained modules and
    their optimizers by name (a GAE critic). Under torchrun every rank calls this and weights
    and optimizers go out as shards (``dist_checkpoint``); rank 0 writes the rest.
    """
    path = checkpoint_dir(out_dir, step)
    if is_main():
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
    barrier()
    state = {**state, "step": step}
    if is_distributed():
        save_sharded(path, model, processor, optimizer, state, STATE_FILE, extra)
    else:
        model.save_pretrained(path)
        processor.save_pretrained(path)
        if optimizer is not None:
            state["optimizer"] = optimizer.state_dict()
        for name, (module, opt) in (extra or {}).items():
            state[name], state[f"{name}_optimizer"] = module.state_dict(), opt.state_dict()
        torch.save({**state, "rng": torch.get_rng_state()}, path / STATE_FILE)
    barrier()  # every shard is on disk before the marker says so
    if is_main():
        (path / MARKER).write_text(str(step))
        for old in list_checkpoints(out_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
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


def read_trainer_state(path: str | Path) -> dict[str, Any]:
    """Checkpoint ``path``'s saved state, loaded as tensors and plain data only (module note)."""
    file = Path(path) / STATE_FILE
    try:
        state = torch.load(file, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as e:
        if "Weights only load failed" in str(e):  # a global outside torch's safe list
            first = str(e).split("\n\n")[1:2] or [""]
            raise UnsafeCheckpointError(
                f"{file}: refused to load: it holds Python objects other than tensors and "
                f"plain data, and unpickling them could run code. Delete the file if you did "
                f"not write it. ({first[0].strip()[:200]})"
            ) from None
        raise CorruptCheckpointError(f"{file}: cannot be read ({e})") from None
    except (OSError, RuntimeError, EOFError, ValueError) as e:
        raise CorruptCheckpointError(f"{file}: cannot be read ({e})") from None
    if not isinstance(state, dict) or "step" not in state or "rng" not in state:
        raise CorruptCheckpointError(f"{file}: not a trainer state (no step / rng entries)")
    return state


def load_trainer_state(path: str | Path) -> dict[str, Any]:
    """The saved state; restores torch's RNG so sampling continues as if uninterrupted."""
    return _resume_state(path, read_trainer_state(path))


def _resume_state(path: str | Path, state: dict[str, Any]) -> dict[str, Any]:
    torch.set_rng_state(state.pop("rng"))
    log.info("resuming from %s (step %d)", path, state["step"])
    return state


def resume_checkpoint(
    out_dir: str | Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    extra: Extra | None = None,
) -> tuple[Path, dict[str, Any]] | None:
    """Restore ``model`` (and ``optimizer``, and the ``extra`` modules and optimizers saved with
    it) from the newest readable complete checkpoint; its path and state. Sharded checkpoints and resumes under torchrun go through
    ``dist_checkpoint.restore``, on any world size.

    An unreadable one is reported by path (WARNING) and the one before it is tried; None when
    there is none. A state file with unsafe objects raises ``UnsafeCheckpointError``.
    """
    from safetensors import SafetensorError

    for path in reversed(list_checkpoints(out_dir)):
        try:
            state = read_trainer_state(path)  # read before touching the model's weights
            try:
                if not restore(path, model, optimizer, state, extra):
                    restore_weights(model, path)
                    if optimizer is not None and "optimizer" in state:
                        optimizer.load_state_dict(state.pop("optimizer"))
                    load_full_extra(extra or {}, state)
            except (OSError, RuntimeError, SafetensorError) as e:
                raise CorruptCheckpointError(f"{path}: weights cannot be read ({e})") from None
            except ValueError as e:  # written by another kind of run (e.g. without a critic)
                raise ValueError(f"{path}: {e}") from None
        except CorruptCheckpointError as e:
            log.warning("%s; resuming from the previous complete checkpoint instead", e)
            continue
        return path, _resume_state(path, state)
    return None
