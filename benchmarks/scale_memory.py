"""Peak memory and step time of one RL update against the micro-batch size and the number of ranks.

    python benchmarks/scale_memory.py              # the table (each point in a fresh process)
    python benchmarks/scale_memory.py --quick      # fewer points

Each point runs ``backward_slice`` + AdamW (the real update path: micro-batches normalised by the
slice's token count) on a Qwen2.5-VL-structured model scaled to ~30M parameters (random weights,
nothing downloaded), N sequences with one 112x112 image each, in a fresh process: large
allocations go to mmap and the kernel's peak-RSS counter (VmHWM) is reset right before the step,
so "peak" is the step's own high-water mark above the resident weights and AdamW states.
Ranks: ``torchrun --nproc_per_node R`` with FSDP2 (gloo on this CPU), each rank holding N / R
sequences; memory is per rank, time is the slowest rank's. Time benchmarks only on a quiet
machine: the two ranks share this CPU's cores.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_SEQ, COMPLETION = 32, 48


def worker(micro: int, out: str) -> None:
    """One measurement (run in its own process, possibly under torchrun)."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from mmrft.build import make_objective
    from mmrft.config import load_config
    from mmrft.models import family_for, load_policy
    from mmrft.plan.measure import freed_to_os, scaled_qwen2_5_vl_config, step_peak
    from mmrft.rollout import HFSampler, SamplingParams
    from mmrft.tasks import TASKS
    from mmrft.trainer.distributed import (
        all_gather_objects,
        destroy,
        init_distributed,
        shard_model,
        shard_rows,
    )
    from mmrft.trainer.optim import make_optimizer
    from mmrft.trainer.update import backward_slice

    world = init_distributed("cpu")
    torch.manual_seed(0)
    tiny, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = family_for(tiny.config.model_type, processor)
    shape = scaled_qwen2_5_vl_config(
        hidden=512, intermediate=1536, layers=6, heads=8, kv_heads=2,
        vocab=tiny.config.text_config.vocab_size, vision_hidden=256,
        vision_intermediate=768, vision_depth=4,
    )  # fmt: skip
    config = type(tiny.config).from_dict(
        {**shape, **{k: getattr(tiny.config, k) for k in ("image_token_id", "video_token_id",
                                                          "vision_start_token_id", "vision_end_token_id")}}
    )  # fmt: skip
    model = Qwen2_5_VLForConditionalGeneration(config)
    prompts = TASKS.get("count")().dataset(N_SEQ // 4, seed=0, level=2)
    batch = HFSampler(tiny, family).generate(
        prompts, SamplingParams(n=4, max_new_tokens=COMPLETION, seed=0)
    )
    mine = shard_rows(N_SEQ)
    batch = batch.subset(list(range(mine.start, mine.stop)))
    shard_model(model, "fsdp2", units=family.vision_tower)
    opt, _ = make_optimizer(model, 1e-5, 0.0)
    cfg = load_config(None, [f"rl.micro_batch_size={micro or 'null'}"])
    cfg = dataclasses.replace(
        cfg, rollout=dataclasses.replace(cfg.rollout, max_new_tokens=COMPLETION)
    )
    n = len(batch.texts)
    objective = make_objective(cfg.algorithm)
    adv = torch.randn(n)
    mask = batch.completion_mask

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        backward_slice(cfg, objective, model, family, batch, list(range(n)), adv, mask,
                       old_logp=None, ref_logp=None, kl_coef=0.0)  # fmt: skip
        opt.step()

    with freed_to_os():
        step()  # AdamW states exist from here on: the measured step is a steady-state one
        t0 = time.perf_counter()
        base, extra = step_peak(step)
        seconds = time.perf_counter() - t0
    every = all_gather_objects({"base": base, "extra": extra, "seconds": seconds})
    if world.is_main:
        Path(out).write_text(json.dumps({
            "params_m": sum(p.numel() for p in model.parameters()) / 1e6 * world.size,
            "resident_mib": max(e["base"] for e in every) / 2**20,
            "step_peak_mib": max(e["extra"] for e in every) / 2**20,
            "seconds": max(e["seconds"] for e in every),
        }))  # fmt: skip
    destroy()


def measure(ranks: int, micro: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "point.json")
        launch = (
            [sys.executable]
            if ranks == 1
            else ["torchrun", "--standalone", f"--nproc_per_node={ranks}"]
        )
        env = {**os.environ, "OMP_NUM_THREADS": str(max(1, os.cpu_count() // ranks))}
        subprocess.run([*launch, __file__, "--worker", str(micro), out], check=True, env=env,
                       capture_output=True)  # fmt: skip
        return json.loads(Path(out).read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(int(args.worker[0]), args.worker[1])
    points = [(1, 0), (1, 8), (1, 2), (2, 0), (2, 4)] if args.quick else [
        (1, 0), (1, 16), (1, 8), (1, 4), (1, 2), (1, 1), (2, 0), (2, 8), (2, 2)]  # fmt: skip
    print(f"one RL update, {N_SEQ} sequences x (prompt + image + {COMPLETION} completion tokens)")
    print("| ranks | micro-batch | weights+AdamW per rank | step peak per rank | step time |")
    print("|---|---|---|---|---|")
    for ranks, micro in points:
        r = measure(ranks, micro)
        label = micro or f"all ({N_SEQ // ranks})"
        print(f"| {ranks} | {label} | {r['resident_mib']:.0f} MiB | {r['step_peak_mib']:.0f} MiB "
              f"| {r['seconds']:.2f} s |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
