"""One rank of the vLLM-under-torchrun check: a colocated engine per rank, fed by FSDP2 shards.

Every rank builds the same varied tiny text policy and keeps an unsharded copy as the
reference; the policy is sharded with FSDP2 over the ranks and each rank builds its own
VLLMSampler (vLLM's external_launcher backend, tensor-parallel 1). Each rank then generates
greedily for its own prompts and compares with HF generate on the reference copy, before and
after one SGD step taken both on the sharded policy (FSDP averages the identical per-rank
gradients) and on the copy. With ARGV[2] == "lora" the policy is a peft LoRA model (adapters
initialised non-zero, so the merged weights differ from the base): the engine must get
``W + scale * B @ A`` from the gathered shards. Rank r writes its findings to ARGV[1].r.json.

    torchrun --standalone --nproc_per_node 2 tests/rollout_vllm/torchrun_worker.py out [lora]
"""

from __future__ import annotations

import copy
import gc
import json
import sys

import torch
from vllm_helpers import text_samples, varied_policy

from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer.distributed import destroy, init_distributed, shard_model, shard_rows

GREEDY = SamplingParams(n=1, temperature=0, max_new_tokens=16)


def sgd_step(model: torch.nn.Module, ids: torch.Tensor) -> None:
    """One SGD step on an LM loss pulling each row towards its neighbour's text."""
    loss = model(input_ids=ids, labels=ids.roll(1, 0)).loss
    loss.backward()
    with torch.no_grad():
        for p in model.parameters():
            if p.grad is not None:  # a LoRA policy's frozen base has none
                p -= 0.5 * p.grad
                p.grad = None


def main(out: str, variant: str = "full") -> None:
    world = init_distributed("cpu")
    torch.set_num_threads(1)
    model, family = varied_policy()
    if variant == "lora":
        from peft import LoraConfig, get_peft_model

        torch.manual_seed(0)
        lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
        model = get_peft_model(model, lora)
    reference = copy.deepcopy(model)
    samples = text_samples(4)
    mine = samples[shard_rows(len(samples), "prompts")]
    ids = family.encode(samples)["input_ids"]  # the same batch on every rank

    shard_model(model, "fsdp2")
    from mmrft.rollout.vllm import VLLMSampler

    engine = VLLMSampler(model, family, enforce_eager=True, kv_cache_gib=0.25)
    found = {"rank": world.rank, "world": world.size, "prompts": [s.prompt for s in mine]}
    before = engine.generate(mine, GREEDY)
    ref_before = HFSampler(reference, family).generate(mine, GREEDY)
    found["before_equal"] = torch.equal(before.completion_ids, ref_before.completion_ids)

    sgd_step(model, ids)
    sgd_step(reference, ids)
    after = engine.generate(mine, GREEDY)  # pushes the gathered shards first
    ref_after = HFSampler(reference, family).generate(mine, GREEDY)
    found["after_equal"] = torch.equal(after.completion_ids, ref_after.completion_ids)
    found["step_changed_outputs"] = not torch.equal(
        ref_after.completion_ids, ref_before.completion_ids
    )
    found["synced"] = engine.timings.get("sync_s", 0) > 0
    found["pushed_again"] = engine.sync_weights()  # nothing changed since: no push
    with open(f"{out}.{world.rank}.json", "w") as f:
        json.dump(found, f)
    del engine  # vLLM leaves its groups before the process group goes
    gc.collect()
    destroy()


if __name__ == "__main__":
    main(*sys.argv[1:])
