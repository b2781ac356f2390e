"""Checkpoints under torchrun: sharded with torch.distributed.checkpoint, resumable on any world size.

Design note. A checkpoint written by N ranks holds, besides the usual ``trainer_state.pt`` (rank
0: step, data position, schedules, evals) and a plain ``save_pretrained`` export of the policy
(rank 0 writes the gathered full weights, so ``from_pretrained`` and ``mmrft eval`` read it
like any model):

* ``dcp/``: the policy's trainable weights and AdamW states as ``torch.distributed.checkpoint``
  shards, keyed by parameter name (``get_state_dict``). Each rank writes only its shard, nobody
  gathers the optimizer, and DCP reshards on load, so the same files resume on 1, 2 or 8 ranks.
* ``trainer_state.pt`` gains ``rng_per_rank`` (each rank's sampling RNG) and ``world_size``.

Other trained modules of the run (``extra``: a GAE critic and its optimizer) go into the same
DCP checkpoint under their own name (``critic``, ``critic_optim``), so they reshard the same way;
in one process they are plain ``state_dict``s inside ``trainer_state.pt`` (``critic``,
``critic_optimizer``), which a torchrun resume reads in full and shards.

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

Extra = dict[str, tuple[torch.nn.Module, torch.optim.Optimizer]]
"""Modules trained beside the policy, each with its optimizer, by name (e.g. ``critic``)."""


def _options(full: bool = False, cpu_offload: bool = False):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    # Frozen weights (a LoRA policy's base, a critic's unused LM head) never change: the run
    # rebuilds them from the config, and sharded checkpoints leave them out, so loading one
    # cannot be strict about them (dcp.load itself fails on any trainable key it lacks).
    return StateDictOptions(
        full_state_dict=full,
        cpu_offload=cpu_offload,
        ignore_frozen_params=not full,
        strict=full,
    )


def save_sharded(
    path: Path,
    model: torch.nn.Module,
    processor: Any,
    optimizer: torch.optim.Optimizer | None,
    state: dict[str, Any],
    state_file: str,
    extra: Extra | None = None,
) -> None:
    """Write checkpoint ``path`` from every rank (call on all ranks; rank 0 writes the files
    that are not shards)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    shards = _sharded_states("model", model, optimizer)
    for name, (module, opt) in (extra or {}).items():
        shards.update(_sharded_states(name, module, opt))
    dcp.save(shards, checkpoint_id=str(path / DCP_DIR))
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


def _optim_key(name: str) -> str:
    return "optim" if name == "model" else f"{name}_optim"


def _sharded_states(
    name: str, module: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> dict[str, Any]:
    """``{name: module shards, <name>_optim: optimizer shards}`` (this rank's part)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict, get_state_dict

    if optimizer is None:
        return {name: get_model_state_dict(module, options=_options())}
    msd, osd = get_state_dict(module, optimizer, options=_options())
    return {name: msd, _optim_key(name): osd}


def load_sharded(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    extra: Extra | None = None,
) -> None:
    """Load ``path/dcp`` into ``model`` (and ``optimizer``, and each ``extra`` module and its
    optimizer), resharded to this world size. Works in a single process too (a checkpoint from
    N ranks resumed by one)."""
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import set_model_state_dict, set_state_dict

    parts = {"model": (model, optimizer), **(extra or {})}
    target: dict[str, Any] = {}
    for name, (module, opt) in parts.items():
        target.update(_sharded_states(name, module, opt))
    dcp.load(target, checkpoint_id=str(path / DCP_DIR))
    for name, (module, opt) in parts.items():
        if opt is None:
            set_model_state_dict(module, target[name], options=_options())
        else:
            set_state_dict(
                module,
                opt,
                model_state_dict=target[name],
                optim_state_dict=target[_optim_key(name)],
                options=_options(),
            )


def load_full_into_sharded(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    optim_state: dict[str, Any] | None,
) -> None:
    """Resume a single-process checkpoint under torchrun: full weights and the optimizer's own
    (index-keyed) state, each rank keeping its shard."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

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
        _load_full_optimizer(model, optimizer, optim_state)


def _load_full_optimizer(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, optim_state: dict[str, Any]
) -> None:
    """A one-process optimizer ``state_dict`` (keyed by parameter index) into a sharded one."""
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    names = [n for n, p in model.named_parameters() if p.requires_grad]  # optimizer order
    by_name = {
        "state": {names[i]: s for i, s in optim_state["state"].items()},
        "param_groups": [
            {**g, "params": [names[i] for i in g["params"]]} for g in optim_state["param_groups"]
        ],
    }
    set_optimizer_state_dict(model, optimizer, by_name, options=_options(full=True))


def load_full_extra(extra: Extra, state: dict[str, Any]) -> None:
    """Each ``extra`` module and optimizer from the full ``state_dict``s a one-process checkpoint
    keeps in its trainer state (``<name>``, ``<name>_optimizer``): loaded in place in one
    process, each rank keeping its shard under torchrun."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

    for name, (module, opt) in extra.items():
        if name not in state:
            raise ValueError(
                f"no {name!r} state to resume from: it was written by a run without one; "
                "resume with the config that wrote it, or start afresh in a new run.out_dir"
            )
        weights, opt_state = state.pop(name), state.pop(f"{name}_optimizer", None)
        if not is_distributed():
            module.load_state_dict(weights)
            if opt_state is not None:
                opt.load_state_dict(opt_state)
            continue
        set_model_state_dict(module, weights, options=_options(full=True))
        if opt_state is not None:
            _load_full_optimizer(module, opt, opt_state)


def restore(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    state: dict[str, Any],
    extra: Extra | None = None,
) -> bool:
    """Restore from ``path`` through the sharded route where it applies: a DCP checkpoint, or
    any checkpoint under torchrun. False: a single-process checkpoint in a single process (the
    caller's plain route; ``extra`` is then the caller's to load, ``load_full_extra``). Takes
    this rank's RNG state when the world size is unchanged."""
    if (path / DCP_DIR).exists():
        load_sharded(path, model, optimizer, extra)
        state.pop("optimizer", None)
    elif is_distributed():
        load_full_into_sharded(path, model, optimizer, state.pop("optimizer", None))
        load_full_extra(extra or {}, state)
    else:
        return False
    rngs = state.pop("rng_per_rank", None)
    if rngs is not None and len(rngs) == state.get("world_size") and rank() < len(rngs):
        state["rng"] = rngs[rank()]
    elif rngs is not None:
        log.info("resuming on another world size: ranks keep their own RNG streams")
    return True
