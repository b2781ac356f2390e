"""One process of the checkpoint resharding check: save on W ranks, resume on W' ranks.

ckpt_worker.py save RUN_DIR   (1 process or under torchrun): one AdamW step on a tiny
    policy, then ``save_checkpoint``; rank 0 also writes the full weights and optimizer
    state it saved to RUN_DIR/save.pt
ckpt_worker.py load RUN_DIR: a differently initialised policy and a fresh optimizer,
    ``resume_checkpoint``; rank 0 writes what it now holds, in full, to RUN_DIR/load.pt
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
)

from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS
from mmrft.trainer.checkpoint import resume_checkpoint, save_checkpoint
from mmrft.trainer.distributed import destroy, init_distributed, is_main, shard_model
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.sft import sft_backward

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def main(mode: str, run_dir: str) -> None:
    init_distributed("cpu")
    torch.set_num_threads(1)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0 if mode == "save" else 7)
    family = family_for(model.config.model_type, processor)
    shard_model(model, "fsdp2", units=family.vision_tower)
    opt, _ = make_optimizer(model, lr=1e-3, weight_decay=0.0)
    if mode == "save":
        samples = TASKS.get("count")().dataset(4, seed=2, level=2)
        sft_backward(model, family, samples)
        opt.step()
        save_checkpoint(run_dir, 1, model, processor, {"note": "saved"}, optimizer=opt)
    else:
        path, state = resume_checkpoint(run_dir, model, opt)
        assert state["note"] == "saved" and state["step"] == 1, state
    held = {
        "model": get_model_state_dict(model, options=FULL),
        "optim": get_optimizer_state_dict(model, opt, options=FULL),
    }
    if is_main():
        torch.save(held, Path(run_dir) / f"{mode}.pt")
    destroy()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
