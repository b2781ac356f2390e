"""One process of the sharded-evaluation check (run by torchrun, or alone for 1 rank).

Every rank builds the same tiny policy (FSDP2-sharded under torchrun) and evaluates the same 5
count problems with ``evaluate_sharded``: under 2 ranks, rank 0 generates for 3 problems and
rank 1 for 2 (padded to 3 so both make the same forward passes). Rank 0 writes the merged
result's per-problem values and greedy texts to ARGV[1].

    torchrun --standalone --nproc_per_node 2 tests/distributed/eval_worker.py out.pt
    python tests/distributed/eval_worker.py out.pt
"""

from __future__ import annotations

import sys

import torch

from mmrft.models import family_for, load_policy
from mmrft.rewards import REWARDS
from mmrft.rollout import HFSampler
from mmrft.tasks import TASKS
from mmrft.trainer.distributed import destroy, init_distributed, shard_model
from mmrft.trainer.sharded_eval import evaluate_sharded

PROBLEMS = 5


def main(out: str) -> None:
    world = init_distributed("cpu")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = family_for(model.config.model_type, processor)
    if world.size > 1:
        model = shard_model(model, "fsdp2", units=family.vision_tower)
    task = TASKS.get("count")()
    samples = task.dataset(PROBLEMS, seed=77, level=2)
    res = evaluate_sharded(
        HFSampler(model, family),
        samples,
        REWARDS.get(task.reward_name),
        n_samples=2,
        max_new_tokens=8,
        seed=0,
    )
    if world.is_main:
        torch.save(
            {
                "problems": {k: torch.tensor(v) for k, v in res.problems.items()},
                "greedy_texts": res.greedy_texts,
                "n_problems": res.n_problems,
            },
            out,
        )
    destroy()


if __name__ == "__main__":
    main(sys.argv[1])
