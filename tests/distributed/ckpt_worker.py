"""One process of the checkpoint resharding check: save on W ranks, resume on W' ranks.

ckpt_worker.py save RUN_DIR   (1 process or under torchrun): one AdamW step on a tiny
    policy, then ``save_checkpoint``; rank 0 also writes the full weights and optimizer
    state it saved to RUN_DIR/save.pt
ckpt_worker.py load RUN_DIR: a differently initialised policy and a fresh optimizer,
    ``resume_checkpoint``; rank 0 writes what it now holds, in full, to RUN_DIR/load.pt
A third argument ``critic`` adds PPO's critic (a copy of the policy, its own AdamW step), saved
and resumed beside the policy; its state goes to the same files under ``critic``/``critic_optim``.
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

from mmrft.config import CriticConfig
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.tasks import TASKS
from mmrft.trainer.checkpoint import resume_checkpoint, save_checkpoint
from mmrft.trainer.critic import build_critic
from mmrft.trainer.distributed import (
    destroy,
    init_distributed,
    is_main,
    shard_critic,
    shard_model,
)
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.sft import sft_backward
from mmrft.trainer.update import critic_values

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def main(mode: str, run_dir: str, with_critic: str = "") -> None:
    init_distributed("cpu")
    torch.set_num_threads(1)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0 if mode == "save" else 7)
    family = family_for(model.config.model_type, processor)
    samples = TASKS.get("count")().dataset(4, seed=2, level=2)
    critic = build_critic(CriticConfig(), model) if with_critic else None
    shard_model(model, "fsdp2", units=family.vision_tower)
    opt, _ = make_optimizer(model, lr=1e-3, weight_decay=0.0)
    extra = {}
    if critic is not None:
        shard_critic(critic, "fsdp2", units=family.vision_tower)
        extra["critic"] = (critic, make_optimizer(critic, lr=1e-3, weight_decay=0.0)[0])
    if mode == "save":
        sft_backward(model, family, samples)
        opt.step()
        if critic is not None:  # one critic step: values of a small rollout pulled towards 1
            batch = HFSampler(model, family).generate(
                samples, SamplingParams(n=2, max_new_tokens=4, seed=0)
            )
            values = critic_values(critic, model, family, batch, temp=1.0)
            ((values - 1) ** 2).mean().backward()
            extra["critic"][1].step()
        save_checkpoint(run_dir, 1, model, processor, {"note": "saved"}, optimizer=opt, extra=extra)
    else:
        path, state = resume_checkpoint(run_dir, model, opt, extra)
        assert state["note"] == "saved" and state["step"] == 1, state
    held = {
        "model": get_model_state_dict(model, options=FULL),
        "optim": get_optimizer_state_dict(model, opt, options=FULL),
    }
    for name, (module, module_opt) in extra.items():
        held[name] = get_model_state_dict(module, options=FULL)
        held[f"{name}_optim"] = get_optimizer_state_dict(module, module_opt, options=FULL)
    if is_main():
        torch.save(held, Path(run_dir) / f"{mode}.pt")
    destroy()


if __name__ == "__main__":
    main(*sys.argv[1:])
