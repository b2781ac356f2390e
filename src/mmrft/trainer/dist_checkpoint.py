"""Checkpoints under torchrun: sharded with torch.distributed.checkpoint, resumable on any world size.

Design note. A checkpoint written by N ranks holds, besides the usual ``trainer_state.pt`` (rank
0: step, data position, schedules, evals) and a plain ``save_pretrained`` export of the policy
(rank 0 writes the gathered full weights, so ``from_pretrained`` and ``mmrft eval`` read it
like any model):

* ``dcp/``: the policy's trainable weights and AdamW states as ``torch.distributed.checkpoint``
  shards, keyed by parameter name (``get_state_dict``). Each rank writes only its shard, nobody
  gathers the optimizer, and DCP reshards on load, so the same files resume on 1, 2 or 8 ranks.
* ``trainer_state.pt`` gains ``rng_per_rank`` (each rank's sampling RNG) and ``world_size``.

A checkpoint written by one process (weights via ``save_pretrained``, the optimizer's own
``state_dict``) resumes under torchrun too: every rank reads the full weights and optimizer
state and ``set_state_dict`` keeps its shard. LoRA adapters from one process are the exception
(peft loads them into unsharded modules only); that case is refused by name.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from mmrft.trainer.distributed import all_gather_objects, is_distributed, is_main, rank

log = logging.getLogger(__name__)

DCP_DIR = "dcp"


def _options(full: bool = False, cpu_offload: bool = False):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    # frozen weights (a LoRA policy's base) never change: the run rebuilds them from the config
    return StateDictOptions(
        full_state_dict=full, cpu_offload=cpu_offload, ignore_frozen_params=not full
    )


def save_sharded(
    path: Path,
    model: torch.nn.Module,
    processor: Any,
    optimizer: torch.optim.Optimizer | None,
    state: dict[str, Any],
    state_file: str,
) -> None:
    """Write checkpoint ``path`` from every rank (call on all ranks; rank 0 writes the files
    that are not shards)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_state_dict

    if optimizer is not None:
        msd, osd = get_state_dict(model, optimizer, options=_options())
        dcp.save({"model": msd, "optim": osd}, checkpoint_id=str(path / DCP_DIR))
    else:
        dcp.save({"model": get_model_state_dict(model, options=_options())}, checkpoint_id=str(path / DCP_DIR))  # fmt: skip
    # a plain export for from_pretrained: gathered to rank 0's CPU one tensor at a time
    full = get_model_state_dict(model, options=_options(full=True, cpu_offload=True))
    rngs = all_gather_objects(torch.get_rng_state())
    if is_main():
        model.save_pretrained(path, state_dict=full)
        processor.save_pretrained(path)
        torch.save(
            {**state, "rng": rngs[0], "rng_per_rank": rngs, "world_size": len(rngs)},
            path / state_file,
        )


def load_sharded(
    path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> None:
    """Load ``path/dcp`` into ``model`` (and ``optimizer``), resharded to this world size.
    Works in a single process too (a checkpoint from N ranks resumed by one)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_state_dict,
        set_model_state_dict,
        set_state_dict,
    )

    if optimizer is not None:
        msd, osd = get_state_dict(model, optimizer, options=_options())
        target = {"model": msd, "optim": osd}
        dcp.load(target, checkpoint_id=str(path / DCP_DIR))
        set_state_dict(
            model,
            optimizer,
            model_state_dict=target["model"],
            optim_state_dict=target["optim"],
            options=_options(),
        )
    else:
        target = {"model": get_model_state_dict(model, options=_options())}
        dcp.load(target, checkpoint_id=str(path / DCP_DIR))
        set_model_state_dict(model, target["model"], options=_options())


def load_full_into_sharded(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    optim_state: dict[str, Any] | None,
) -> None:
    """Resume a single-process checkpoint under torchrun: full weights and the optimizer's own
    (index-keyed) state, each rank keeping its shard."""
    from torch.distributed.checkpoint.state_dict import (
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    if hasattr(model, "peft_config"):
        raise ValueError(
            f"{path}: a LoRA checkpoint written by one process cannot be resumed under torchrun "
            "(adapters load into unsharded modules only); resume it with one process, or start "
            "the run afresh under torchrun (its checkpoints then resume on any world size)"
        )
    pretrained = next(c for c in type(model).__mro__ if hasattr(c, "from_pretrained"))
    full = pretrained.from_pretrained(path).state_dict()
    set_model_state_dict(model, full, options=_options(full=True))
    if optimizer is not None and optim_state is not None:
        names = [n for n, p in model.named_parameters() if p.requires_grad]  # optimizer order
        by_name = {
            "state": {names[i]: s for i, s in optim_state["state"].items()},
            "param_groups": [
                {**g, "params": [names[i] for i in g["params"]]}
                for g in optim_state["param_groups"]
            ],
        }
        set_optimizer_state_dict(model, optimizer, by_name, options=_options(full=True))


def restore(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    state: dict[str, Any],
) -> bool:
    """Restore from ``path`` through the sharded route where it applies: a DCP checkpoint, or
    any checkpoint under torchrun. False: a single-process checkpoint in a single process (the
    caller's plain route). Takes this rank's RNG state when the world size is unchanged."""
    if (path / DCP_DIR).exists():
        load_sharded(path, model, optimizer)
        state.pop("optimizer", None)
    elif is_distributed():
        load_full_into_sharded(path, model, optimizer, state.pop("optimizer", None))
    else:
        return False
    rngs = state.pop("rng_per_rank", None)
    if rngs is not None and len(rngs) == state.get("world_size") and rank() < len(rngs):
        state["rng"] = rngs[rank()]
    elif rngs is not None:
        log.info("resuming on another world size: ranks keep their own RNG streams")
    return True
