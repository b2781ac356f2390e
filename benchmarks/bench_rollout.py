"""Rollout throughput per engine and batch size, its model-FLOP utilisation, and the rollout's
share of a GRPO step.

    python benchmarks/bench_rollout.py [--models text vlm] [--batches 8 32 64] [--group 8]
        [--tokens 48] [--repeats 2] [--threads 1] [--peak-gflops auto] [--share-steps 3]
    python benchmarks/bench_rollout.py --smoke      # builtin-size models, one small batch

Models: the two of ``bench_vs_trl.py`` (text Qwen2 21.3M, Qwen2.5-VL 17.8M with 144 image
tokens per prompt), built from configs with random weights; --smoke uses the builtin sizes.

Engines: ``hf`` (``HFSampler`` as the trainer builds it: shared prompt prefill, in-place KV
cache), ``hf-noshare`` (``share_prefill=False``: every completion prefills its own prompt
copy), ``hf-before`` (also ``reserve_cache=False``: plain ``generate`` with transformers'
concatenating cache, the engine before issue #19) and ``vllm`` when vLLM
imports (it is not in the main venv: see ``rollout_engines.py`` and ``.ci/vllm_cpu.sh``;
text models only on a CPU). A batch of R rows is R / group prompts x group completions, each at
most ``--tokens`` new tokens at temperature 1 (random weights rarely emit EOS, so nearly every
row runs the full length: equal work for every engine).

Columns: best-of-``--repeats`` seconds of one ``generate`` (the engines take turns within a
repeat, so a load change from other jobs hits each); completion tokens per second;
``MFU`` = 2 * parameters * completion tokens / seconds / peak, the usual decode estimate (it
leaves out the prompt's prefill, the vision encoder and attention, so it understates the work
done, and equally for all engines). ``peak`` is measured here by default: the best fp32 GFLOP/s
of a 1024^3 matmul at the same thread count (``--peak-gflops`` to state one instead).

Rollout share: ``--share-steps`` GRPO steps of mmrft's loop (``bench_vs_trl.run_mmrft``, 4 prompts x
G=8 x <= 48 tokens) and the median share of the step's wall time spent inside ``generate``.
A measurement, not a test: read the load it prints.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_vs_trl import MODELS  # noqa: E402  (the benchmark's models, one definition)


def measured_peak_gflops(size: int = 1024, repeats: int = 5) -> float:
    """Best fp32 GFLOP/s of a ``size``^3 matmul at the current thread count."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * size**3 / best / 1e9


def make_engines(model, family) -> dict:
    from mmrft.rollout import HFSampler

    engines = {
        "hf": lambda: HFSampler(model, family),
        "hf-noshare": lambda: HFSampler(model, family, share_prefill=False),
        "hf-before": lambda: HFSampler(model, family, share_prefill=False, reserve_cache=False),
    }
    try:
        import vllm  # noqa: F401
    except ImportError:
        print("  vllm: not importable in this venv, skipped (see benchmarks/rollout_engines.py)")
    else:
        if family.multimodal and not torch.cuda.is_available():
            print("  vllm: the CPU build serves text models only, skipped")
        else:
            from mmrft.rollout.vllm import VLLMSampler

            engines["vllm"] = lambda: VLLMSampler(model, family, enforce_eager=True)
    return engines


def make_samples(family, n: int) -> list:
    from mmrft.data.sample import Sample
    from mmrft.tasks import TASKS

    if family.multimodal:
        task = TASKS.get("count")()
        return [task.generate(seed, 2) for seed in range(n)]
    return [Sample(id=str(i), prompt=f"Say something #{i % 7}.", answer="") for i in range(n)]


def throughput(args: argparse.Namespace, name: str, peak: float) -> None:
    """One table: engine x batch size -> seconds, tokens/s, MFU."""
    from mmrft.models import family_for
    from mmrft.models.tiny import TINY_MODELS
    from mmrft.rollout import SamplingParams

    builtin, sizes = MODELS[name]
    model, processor = TINY_MODELS.get(builtin)(0, **({} if args.smoke else sizes))
    family = family_for(model.config.model_type, processor)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"\n{name}: {builtin}, {n_params / 1e6:.1f}M parameters")
    print(
        f"  {'engine':10s} {'rows':>5s} {'seconds':>8s} {'tok/s':>8s} {'GFLOP/s':>8s} {'MFU':>6s}"
    )
    samplers = {engine: build() for engine, build in make_engines(model, family).items()}
    for rows in args.batches:
        samples = make_samples(family, max(1, rows // args.group))
        params = SamplingParams(n=args.group, max_new_tokens=args.tokens, seed=0)
        for sampler in samplers.values():
            sampler.generate(samples, params)  # warm-up
        best = dict.fromkeys(samplers, float("inf"))
        tokens = dict.fromkeys(samplers, 0)
        for _ in range(args.repeats):  # engines alternate, so a load change hits them all
            for engine, sampler in samplers.items():
                t = time.perf_counter()
                batch = sampler.generate(samples, params)
                best[engine] = min(best[engine], time.perf_counter() - t)
                tokens[engine] = batch.num_tokens
        for engine in samplers:
            gflops = 2 * n_params * tokens[engine] / best[engine] / 1e9
            print(
                f"  {engine:10s} {len(samples) * args.group:5d} {best[engine]:8.3f} "
                f"{tokens[engine] / best[engine]:8.0f} {gflops:8.2f} {gflops / peak:6.1%}",
                flush=True,
            )


def rollout_share(args: argparse.Namespace, name: str) -> None:
    """Median share of a GRPO step's wall time spent in ``generate`` (mmrft's loop)."""
    import tempfile

    from bench_vs_trl import run_mmrft

    from mmrft.models import family_for, load_policy, save_policy
    from mmrft.models.tiny import TINY_MODELS

    builtin, sizes = MODELS[name]
    with tempfile.TemporaryDirectory(prefix="mmrft-bench-") as tmp:
        save_policy(*TINY_MODELS.get(builtin)(0, **({} if args.smoke else sizes)), tmp)
        model, processor = load_policy(tmp)
        family = family_for(model.config.model_type, processor)
        del model
        warmup = 1
        steps = warmup + args.share_steps + 1
        ns = argparse.Namespace(
            model=tmp,
            lr=1e-4,
            prompts=args.share_prompts,
            group=args.group,
            max_new_tokens=args.tokens,
            precision="fp32",
            reward="even_length",
            set=[],
        )
        clock = run_mmrft(ns, make_samples(family, args.share_prompts * steps), steps)
    step = clock.step_times(warmup)
    gen = clock.generate[warmup + 1 : warmup + 1 + args.share_steps]
    shares = [g / s for g, s in zip(gen, step, strict=False)]
    print(
        f"  rollout share of a step ({args.share_prompts} prompts x G={args.group}, hf engine): "
        f"{statistics.median(shares):.0%} (median step {statistics.median(step):.3f} s, "
        f"generate {statistics.median(gen):.3f} s)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--batches", nargs="+", type=int, default=[8, 32, 64], help="rows per call")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt")
    ap.add_argument("--tokens", type=int, default=48, help="max new tokens")
    ap.add_argument("--repeats", type=int, default=2, help="timed calls per cell (best kept)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--peak-gflops", default="auto", help="fp32 peak; auto measures a matmul")
    ap.add_argument("--share-steps", type=int, default=3, help="GRPO steps for the rollout share")
    ap.add_argument("--share-prompts", type=int, default=4, help="prompts per GRPO step")
    ap.add_argument("--smoke", action="store_true", help="builtin sizes, one tiny batch, 1 step")
    args = ap.parse_args()
    if args.smoke:
        args.batches, args.group, args.tokens, args.repeats = [4], 2, 4, 1
        args.share_steps, args.share_prompts = 1, 2

    import logging
    import warnings

    from transformers.utils import logging as hf_logging

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)
    peak = measured_peak_gflops() if args.peak_gflops == "auto" else float(args.peak_gflops)
    a, b, c = os.getloadavg()
    print(
        f"{os.cpu_count()} CPUs, torch {torch.__version__}, {args.threads} thread(s), float32; "
        f"peak {peak:.0f} GFLOP/s ({args.peak_gflops}); load {a:.2f} {b:.2f} {c:.2f}"
    )
    for name in args.models:
        throughput(args, name, peak)
        rollout_share(args, name)
    a, b, c = os.getloadavg()
    print(f"after: load {a:.2f} {b:.2f} {c:.2f}")


if __name__ == "__main__":
    main()
