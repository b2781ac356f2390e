"""One process of the SFT data-parallel equivalence check (see ``rl_worker.py``).

Every rank builds the same tiny policy and the same ``BATCH`` samples, keeps its block of them,
and runs ``STEPS`` SFT steps on it (micro-batches of ARGV[3] samples; 0 = one pass). Rank 0
writes the full parameters and the per-step losses to ARGV[1].
"""

from __future__ import annotations

import sys

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS
from mmrft.trainer.distributed import destroy, init_distributed, shard_model, shard_rows
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.sft import sft_backward

BATCH, STEPS = 8, 3


def main(out: str, strategy: str, micro: int) -> None:
    world = init_distributed("cpu")
    torch.set_num_threads(1)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    model = model.double()
    family = family_for(model.config.model_type, processor)
    # answers of 1 and 2 digits: unequal target lengths across the ranks' blocks
    samples = TASKS.get("count")().dataset(BATCH, seed=11, level=3)[shard_rows(BATCH)]
    if strategy != "none":
        shard_model(model, strategy, units=family.vision_tower)
    opt, _ = make_optimizer(model, lr=1e-3, weight_decay=0.0)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        loss, _ = sft_backward(model, family, samples, micro or None)
        opt.step()
        losses.append(loss)
    full = get_model_state_dict(
        model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
    )
    if world.is_main:
        torch.save({"params": full, "losses": losses, "world": world.size}, out)
    destroy()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
