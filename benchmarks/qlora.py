"""What does QLoRA (``model.quantization``) cost per step, against plain LoRA on the same model?

For each quantization (none, nf4, fp4, int8): load time, ``HFSampler`` generation of
``--prompts`` x ``--n`` completions of ``--new`` tokens, and one LoRA training step (policy
log-probs of those completions, mean NLL, AdamW), best of ``--repeats``; plus the bytes the
language model's weights take (the memory QLoRA saves), all on one model and one batch.

    python benchmarks/qlora.py [--model tiny-qwen2.5-vl] [--prompts 8] [--n 1] [--new 32]

Needs bitsandbytes (``pip install 'mmrft[qlora]'``). A measurement, not a test; run it on a
quiet machine. On a tiny model the figures show overhead only: QLoRA is for memory on real
checkpoints.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch
from grpo_step import best_of  # benchmarks/ is on the path when run as a script

from mmrft.config import ModelConfig
from mmrft.models import family_for, load_policy, save_policy
from mmrft.models.logprobs import completion_logprobs
from mmrft.models.setup import prepare_policy
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.tasks import TASKS


def weight_bytes(model: torch.nn.Module, under: str) -> int:
    """Bytes of the parameters and buffers under module path ``under`` (4-bit weights are
    packed two to a byte, so their storage is what they cost)."""
    sub = model.get_submodule(under)
    tensors = [*sub.parameters(), *sub.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def measure(path: str, kind: str | None, samples, params, repeats: int) -> tuple[float, ...]:
    """(load s, generate s, train step s, language-model MB) for one quantization."""
    load = best_of(lambda: load_policy(path, quantization=kind), repeats)
    model, processor = load_policy(path, quantization=kind)
    family = family_for(model.config.model_type, processor)
    lm_bytes = weight_bytes(model, family.language_model)
    model = prepare_policy(model, ModelConfig(lora_rank=4, lora_alpha=8, quantization=kind))
    sampler = HFSampler(model, family)
    generate = best_of(lambda: sampler.generate(samples, params), repeats)
    batch = sampler.generate(samples, params)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])

    def step() -> None:
        logp, _ = completion_logprobs(
            model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
        )
        (-logp.sum() / batch.completion_mask.sum()).backward()
        optimizer.step()
        optimizer.zero_grad()

    return load, generate, best_of(step, repeats), lm_bytes / 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="tiny-qwen2.5-vl")
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    samples = TASKS.get("count")().dataset(args.prompts, seed=0, level=2)
    params = SamplingParams(n=args.n, max_new_tokens=args.new, seed=0)
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()}")
    print(f"{args.model}, LoRA rank 4, {args.prompts} prompts x n={args.n} x {args.new} tokens")
    print(
        f"{'quantization':>12} {'load s':>8} {'generate s':>11} {'train step s':>13} {'LM MB':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        save_policy(*load_policy(args.model), tmp)
        for kind in (None, "nf4", "fp4", "int8"):
            load, gen, train, mb = measure(tmp, kind, samples, params, args.repeats)
            print(f"{kind or 'none':>12} {load:8.3f} {gen:11.3f} {train:13.3f} {mb:7.3f}")


if __name__ == "__main__":
    main()
