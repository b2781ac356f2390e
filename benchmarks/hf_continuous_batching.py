"""Should the default rollout engine be transformers' continuous batching (``hf-cb``)?

Times ``model.generate`` (what the ``hf`` engine runs) against ``model.generate_batch``
(transformers' continuous batching with a paged KV cache) on the same prompts and token budget.

    python benchmarks/hf_continuous_batching.py [--rows 64] [--new 32] [--repeats 2]

Text model only: ``generate_batch`` takes token-id lists, with no place for pixel values, so it
cannot serve the VLM families at all. A measurement, not a test; run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from transformers import GenerationConfig

from mmrft.models import load_policy


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--new", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    model, tok = load_policy("tiny-qwen2")
    prompts = [[5, 6, 7, 8 + i % 50] for i in range(args.rows)]
    ids = torch.tensor(prompts)
    eos, pad = tok.eos_token_id, tok.pad_token_id
    config = GenerationConfig(
        max_new_tokens=args.new, do_sample=True, eos_token_id=eos, pad_token_id=pad
    )

    def hf() -> None:
        with torch.no_grad():
            model.generate(input_ids=ids, generation_config=config)

    def cb(first: bool) -> None:
        model.generate_batch(inputs=prompts, generation_config=config, warmup=first)

    cb_first = timed(lambda: cb(True))  # includes its one-off warm-up
    cb_best = min(timed(lambda: cb(False)) for _ in range(args.repeats))
    hf_best = min(timed(hf) for _ in range(args.repeats + 1))
    print(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()}")
    print(f"{args.rows} rows x {args.new} new tokens, tiny-qwen2 on CPU")
    print(f"  hf    generate        best {hf_best:7.2f} s")
    print(f"  hf-cb generate_batch  best {cb_best:7.2f} s (first call {cb_first:.2f} s)")
    print(f"  hf-cb / hf = {cb_best / hf_best:.1f}x")


if __name__ == "__main__":
    main()
