"""torchrun + torch.distributed + FSDP2: process groups, sharding and rank-aware reductions.

Design note. mmrft has no distributed layer of its own: ``torchrun`` starts one process per
device and sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR; ``init_distributed`` joins the
process group (NCCL on CUDA, gloo on CPU); ``shard_model`` applies FSDP2's ``fully_shard`` to
each decoder layer and then the whole model (or wraps it in DDP). Everything here is a no-op in
a plain single process, so the same code path runs with and without torchrun.

Data parallelism splits a step's *prompts* across ranks, each GRPO group whole on one rank, so
group statistics (advantages) need no communication; what must be global is reduced here: the
loss normaliser (``update.py``), reward/metric means, and only rank 0 writes files.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mmrft.models.loading import base_model

log = logging.getLogger(__name__)

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class World:
    """This process's place among the ranks (rank 0 of 1 without torchrun)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main() -> bool:
    return rank() == 0


def current_world() -> World:
    local = int(os.environ.get("LOCAL_RANK", 0)) if is_distributed() else 0
    return World(rank(), world_size(), local)


def launched_by_torchrun() -> bool:
    """torchrun (or another launcher) set a world size above 1 for this process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def torchrun_command(nproc: int, mmrft_args: list[str]) -> list[str]:
    """The single-node torchrun command line that runs ``mmrft <mmrft_args>`` on ``nproc``
    processes.

    >>> torchrun_command(2, ["train", "cfg.yaml"])
    ['torchrun', '--standalone', '--nproc_per_node=2', '-m', 'mmrft', 'train', 'cfg.yaml']
    """
    return ["torchrun", "--standalone", f"--nproc_per_node={nproc}", "-m", "mmrft", *mmrft_args]


def init_distributed(device: str = "auto") -> World:
    """Join torchrun's process group when launched by it; a single process otherwise.

    ``device``: ``model.device`` (auto/cpu/cuda): NCCL for CUDA tensors, gloo for CPU ones (a
    CUDA run joins both, ``cpu:gloo,cuda:nccl``: the trainers all-reduce small CPU tensors of
    metrics and token counts, which an NCCL-only group refuses). Each rank uses CUDA device
    LOCAL_RANK. Raises a clear error when WORLD_SIZE > 1 but the rendezvous
    variables are missing (e.g. the environment was half copied from a torchrun job).
    """
    if is_distributed() or not launched_by_torchrun():
        return current_world()
    missing = [v for v in TORCHRUN_VARS if v not in os.environ]
    if missing:
        raise RuntimeError(
            f"WORLD_SIZE={os.environ['WORLD_SIZE']} but {', '.join(missing)} unset: launch with "
            "`torchrun --nproc_per_node N -m mmrft train CONFIG` (or unset WORLD_SIZE)"
        )
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    if use_cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    backend = "cpu:gloo,cuda:nccl" if use_cuda else "gloo"
    dist.init_process_group(backend=backend)
    world = current_world()
    log.info("rank %d of %d joined (%s)", world.rank, world.size, backend)
    return world


def rank_device(device: str) -> str:
    """The device this rank computes on: ``cuda:LOCAL_RANK`` under torchrun with CUDA."""
    if is_distributed() and device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    return device


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of ``x`` over ranks (a copy; ``x`` itself unchanged); ``x`` in a single process."""
    if not is_distributed():
        return x
    out = x.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def all_gather_objects(obj: object) -> list[object]:
    """Every rank's ``obj``, in rank order (``[obj]`` in a single process)."""
    if not is_distributed():
        return [obj]
    out: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def shard_rows(n: int, key: str = "rollout.prompts_per_step") -> slice:
    """This rank's block of a step's ``n`` prompts (RL: each then sampled a whole GRPO group
    on this rank) or samples (SFT), from every rank drawing the same ``n`` in the same order.

    The world size must divide ``n`` (config key ``key``), so every rank does the same work.
    """
    size, r = world_size(), rank()
    if n % size:
        raise ValueError(f"{key}={n} is not divisible by the world size {size}")
    per = n // size
    return slice(r * per, (r + 1) * per)


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def destroy() -> None:
    if is_distributed():
        dist.destroy_process_group()


def block_classes(model: torch.nn.Module) -> set[str]:
    """Class names of the repeated blocks FSDP2 shards one by one: transformers lists them as
    ``_no_split_modules`` (decoder layers, vision blocks) on every model class."""
    return set(getattr(base_model(model), "_no_split_modules", None) or [])


def shard_model(
    model: torch.nn.Module,
    strategy: str = "fsdp2",
    *,
    compute_dtype: torch.dtype | None = None,
    reshard_after_forward: bool = True,
    units: tuple[str, ...] = (),
) -> torch.nn.Module:
    """Shard (fsdp2) or replicate (ddp) ``model`` over the ranks, in place; a no-op alone.

    fsdp2: ``fully_shard`` on every block of ``block_classes`` and then on the whole model, so
    one block's weights are gathered at a time. ``units``: module paths that are also sharded
    as units of their own because code calls them directly rather than through the model's
    forward (the family's vision tower, run once per group by ``share_vision``); their
    weights would otherwise be gathered only by the root's hook. With a ``compute_dtype`` below float32, FSDP2's
    ``MixedPrecisionPolicy`` casts the gathered weights for compute while the sharded float32
    weights (and AdamW's states) stay the master copy, and gradients are reduced in float32.
    ddp: the composable ``replicate`` (DDP without a wrapper, so the model keeps its HF API).
    """
    if not is_distributed():
        return model
    if strategy == "ddp":
        from torch.distributed._composable.replicate import replicate

        replicate(model)
        return model
    if strategy != "fsdp2":
        raise ValueError(f"distributed.strategy {strategy!r}: expected 'fsdp2' or 'ddp'")
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    if any(type(p).__module__.startswith("bitsandbytes") for p in model.parameters()):
        raise ValueError(
            "distributed.strategy=fsdp2 cannot shard bitsandbytes-quantized weights "
            "(model.quantization); use distributed.strategy=ddp"
        )
    mp = None
    if compute_dtype is not None and compute_dtype != torch.float32:
        mp = MixedPrecisionPolicy(param_dtype=compute_dtype, reduce_dtype=torch.float32)
    opts = {"reshard_after_forward": reshard_after_forward}
    if mp is not None:
        opts["mp_policy"] = mp
    names = block_classes(model)
    for module in model.modules():
        if type(module).__name__ in names:
            fully_shard(module, **opts)
    base = base_model(model)
    for path in units:
        fully_shard(base.get_submodule(path), **opts)
    if base is not model:  # peft's generate calls the wrapped model's forward, not the wrapper's
        fully_shard(base, **opts)
    fully_shard(model, **opts)
    # FSDP2 picks its root at the first forward, and refuses one that starts inside a unit; fix
    # the root now so the vision tower or peft's wrapped model can be called directly from the
    # first step (torch 2.14 private API, hence the guard).
    state = getattr(model, "_get_fsdp_state", None)
    if state is not None:
        state()._lazy_init()
    return model


def shard_critic(
    critic: torch.nn.Module,
    strategy: str = "fsdp2",
    *,
    compute_dtype: torch.dtype | None = None,
    reshard_after_forward: bool = True,
    units: tuple[str, ...] = (),
) -> torch.nn.Module:
    """Shard or replicate a ``Critic`` (its backbone, if separate, and its value head) over the
    ranks, in place; a no-op alone.

    The trainer never calls the critic's own forward: it runs ``critic.backbone`` (through the
    family's forward) and ``critic.head`` separately, so each is a unit of its own. FSDP2 and
    DDP hook the forward of the module they wrap, and a wrapper around the whole critic would
    never be entered. fsdp2: the backbone is sharded like a policy (``shard_model``: block by
    block, ``units`` too), the head as one more unit. ddp: each is replicated separately.
    """
    if not is_distributed():
        return critic
    if critic.backbone is not None:
        shard_model(
            critic.backbone,
            strategy,
            compute_dtype=compute_dtype,
            reshard_after_forward=reshard_after_forward,
            units=units,
        )
    if strategy == "ddp":
        from torch.distributed._composable.replicate import replicate

        replicate(critic.head)
    else:
        from torch.distributed.fsdp import fully_shard

        fully_shard(critic.head)  # float32: the value head's math is float32 anyway
    return critic


def is_sharded(model: torch.nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def gather_rows(tensors: dict[str, torch.Tensor | None]) -> dict[str, torch.Tensor | None]:
    """Every rank's rows of each tensor, concatenated in rank order ([N_r, ...] -> [sum N_r,
    ...]); 2-D tensors are right-padded with zeros to the widest rank's L first (a completion
    mask pads with 0, so padded positions stay masked). Returned on each tensor's device."""
    local = {k: None if v is None else v.detach().cpu() for k, v in tensors.items()}
    parts = all_gather_objects(local)
    out: dict[str, torch.Tensor | None] = {}
    for key, value in tensors.items():
        if value is None:
            out[key] = None
            continue
        pieces = [p[key] for p in parts]
        if value.dim() == 2:
            width = max(p.shape[1] for p in pieces)
            pieces = [torch.nn.functional.pad(p, (0, width - p.shape[1])) for p in pieces]
        out[key] = torch.cat(pieces).to(value.device)
    return out


def mean_over_ranks(metrics: dict[str, float]) -> dict[str, float]:
    """Per-key mean over the ranks that logged the key (scalar metrics; non-numbers, e.g.
    health warnings, are taken from rank 0)."""
    if not is_distributed():
        return metrics
    every = all_gather_objects(metrics)
    out: dict[str, float] = {}
    for key in every[0].keys() | set().union(*(m.keys() for m in every[1:])):
        values = [m[key] for m in every if key in m]
        numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        out[key] = sum(numbers) / len(numbers) if len(numbers) == len(values) else values[0]
    return {k: out[k] for k in sorted(out)}


class RankShare:
    """A problem stream seen by one rank: ``next_batch(n)`` draws ``n x world size`` problems,
    the same on every rank (all streams start from the same seed and state), and keeps this
    rank's block; everything else is the wrapped stream's."""

    def __init__(self, stream: object) -> None:
        self._stream = stream

    def next_batch(self, n: int) -> list:
        total = n * world_size()
        return self._stream.next_batch(total)[shard_rows(total)]

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
