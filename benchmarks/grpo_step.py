"""Time one GRPO step of the demo setup, split into rollout and update, and the update with and
without sharing one vision-encoder pass per group (``ModelFamily.share_vision``).

    python benchmarks/grpo_step.py [--prompts 16] [--group 8] [--repeats 5]

Prints best-of-N seconds and the speed-up ratio measured in the same process. Run it on a quiet
machine; it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import time

import torch

from mmrft.models import family_for, load_policy
from mmrft.models.logprobs import completion_logprobs
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.tasks import TASKS


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    model, processor = load_policy("tiny-qwen2.5-vl")
    family = family_for(model.config.model_type, processor)
    samples = TASKS.get("count")().dataset(args.prompts, seed=1, level=2)
    sampler = HFSampler(model, family)
    params = SamplingParams(n=args.group, max_new_tokens=16, seed=0)
    batch = sampler.generate(samples, params)
    source = [i - i % args.group for i in range(len(batch.texts))]

    def update(shared: bool) -> None:
        inputs = (
            family.share_vision(model, batch.prompt_inputs, source)
            if shared
            else batch.prompt_inputs
        )
        logp, _ = completion_logprobs(model, inputs, batch.completion_ids, batch.completion_mask)
        model.zero_grad()
        logp.sum().backward()

    t_roll = best_of(lambda: sampler.generate(samples, params), args.repeats)
    t_plain = best_of(lambda: update(False), args.repeats)
    t_shared = best_of(lambda: update(True), args.repeats)
    rows = len(batch.texts)
    print(f"torch threads {torch.get_num_threads()}, {rows} completions of <= 16 tokens")
    print(
        f"rollout (HF generate)          {t_roll:.3f} s  ({batch.num_tokens / t_roll:,.0f} tok/s)"
    )
    print(f"update, vision per row         {t_plain:.3f} s")
    print(f"update, vision shared by group {t_shared:.3f} s  -> {t_plain / t_shared:.2f}x faster")


if __name__ == "__main__":
    main()
