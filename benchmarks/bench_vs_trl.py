"""mmrft's GRPO step against TRL's ``GRPOTrainer`` on a ~20M text Qwen2 and a ~18M Qwen2.5-VL.

    python benchmarks/bench_vs_trl.py [--models text vlm] [--rounds 2] [--steps 3] [--warmup 2]
        [--prompts 4] [--group 8] [--max-new-tokens 48] [--threads 1] [--set key=value ...]
    python benchmarks/bench_vs_trl.py --smoke     # builtin-size models, one step: seconds

Both models are built offline from configs (``TINY_MODELS`` with size overrides, random
weights) and saved to a temporary directory; every run loads them from there, so both trainers
start from the same weights. ``text``: Qwen2, width 512, 8 layers, 8 heads (21.3M parameters).
``vlm``: Qwen2.5-VL, width 384, 10 layers, 6 heads, a 4-layer 192-wide vision encoder, 336x336
pixel budget: 24x24 patches merged 2x2 = 144 image tokens per prompt (17.8M parameters).

Each (trainer, round) runs in its own process, so imports, allocator state and the peak RSS
are each side's own. Rounds alternate A-B-B-A (mmrft, TRL, TRL, mmrft, ...), so a load change
from other jobs hits both sides. The matched settings, the step clock (wall time between
consecutive reward calls) and the in-``generate`` time are those of ``vs_trl.py``, whose runner
functions this script calls: 4 prompts x G=8 x <= 48 new tokens, float32, AdamW, no KL.

The last lines are one per model, the ratios of medians over all rounds::

    text: speedup_vs_trl=X memory_vs_trl=Y

``speedup_vs_trl`` = TRL s/step / mmrft s/step (> 1: mmrft faster), ``memory_vs_trl`` = mmrft
peak RSS / TRL peak RSS (< 1: mmrft smaller). ``--set`` passes config overrides to mmrft only
(e.g. ``--set rollout.share_prefill=false`` to measure without the shared prompt prefill).
It is a measurement, not a test: run it on a quiet machine and read the load it prints.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIDES = ("mmrft", "TRL")

# name -> (builtin tiny model, size overrides); --smoke keeps the builtin defaults
MODELS: dict[str, tuple[str, dict[str, int]]] = {
    "text": ("tiny-qwen2", {"hidden_size": 512, "num_layers": 8, "num_heads": 8}),
    "vlm": (
        "tiny-qwen2.5-vl",
        {
            "hidden_size": 384,
            "num_layers": 10,
            "num_heads": 6,
            "vision_hidden_size": 192,
            "vision_layers": 4,
            "image_size": 336,
        },
    ),
}


def build_models(names: list[str], out: Path, smoke: bool) -> dict[str, Path]:
    """Build each model from its config (seed 0) and save it under ``out``; returns the dirs."""
    from mmrft.models import save_policy
    from mmrft.models.tiny import TINY_MODELS

    dirs = {}
    for name in names:
        builtin, sizes = MODELS[name]
        model, processor = TINY_MODELS.get(builtin)(0, **({} if smoke else sizes))
        dirs[name] = out / name
        save_policy(model, processor, dirs[name])
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {builtin} {sizes if not smoke else 'builtin size'}, {n_params / 1e6:.1f}M")
    return dirs


def run_side(args: argparse.Namespace) -> None:
    """Child process: one trainer's round on the saved model; prints one JSON line."""
    import logging
    import warnings

    import torch
    from transformers.utils import logging as hf_logging

    sys.path.insert(0, str(HERE))
    from vs_trl import run_mmrft, run_trl

    from mmrft.data.sample import Sample
    from mmrft.models import family_for, load_policy
    from mmrft.tasks import TASKS

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    hf_logging.disable_progress_bar()
    torch.set_num_threads(args.threads)

    steps = args.warmup + args.steps + 1  # interval i runs from reward call i to i + 1
    timed = slice(args.warmup + 1, args.warmup + 1 + args.steps)
    model, processor = load_policy(args.model, seed=0)  # only to tell text from vision
    multimodal = family_for(model.config.model_type, processor).multimodal
    del model
    if multimodal:  # the count task at level 2, one image per prompt
        task = TASKS.get("count")()
        samples = [task.generate(seed, 2) for seed in range(args.prompts * steps)]
    else:
        n = args.prompts * steps
        samples = [
            Sample(id=str(i), prompt=f"Say something #{i % 7}.", answer="") for i in range(n)
        ]
    clock = (run_mmrft if args.side == "mmrft" else run_trl)(args, samples, steps)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "step_s": clock.step_times(args.warmup),
        "generate_s": clock.generate[timed],
        "tokens": clock.tokens[timed],
        "peak_rss_mib": peak_kib / 1024,
    }
    print("RESULT " + json.dumps(result))


def child(args: argparse.Namespace, side: str, model_dir: Path) -> dict:
    """Run one side's round in a fresh interpreter; its RESULT line parsed."""
    cmd = [
        sys.executable,
        __file__,
        "--side",
        side,
        "--model",
        str(model_dir),
        *("--steps", str(args.steps), "--warmup", str(args.warmup)),
        *("--prompts", str(args.prompts), "--group", str(args.group)),
        *("--max-new-tokens", str(args.max_new_tokens), "--threads", str(args.threads)),
        *("--lr", str(args.lr)),
        *(x for kv in args.set for x in ("--set", kv)),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f"{side} on {model_dir} failed:\n{proc.stdout[-2000:]}{proc.stderr[-4000:]}"
        )
    return json.loads(lines[-1][len("RESULT ") :])


def load() -> str:
    a, b, c = os.getloadavg()
    return f"load {a:.2f} {b:.2f} {c:.2f}"


def compare(args: argparse.Namespace, name: str, model_dir: Path) -> tuple[float, float]:
    """Alternating rounds of both sides on one model; prints the per-side table."""
    res: dict[str, list[dict]] = {s: [] for s in SIDES}
    for r in range(args.rounds):
        for side in SIDES if r % 2 == 0 else SIDES[::-1]:  # A-B-B-A
            out = child(args, side, model_dir)
            res[side].append(out)
            print(
                f"  {name} round {r + 1} {side:5s} {statistics.median(out['step_s']):7.3f} s/step "
                f"peak RSS {out['peak_rss_mib']:7.0f} MiB  ({load()})",
                flush=True,
            )
    med, rss = {}, {}
    print(
        f"  {'trainer':7s} {'s/step':>7s} {'generate':>9s} {'rest':>7s} {'tok/step':>9s} {'RSS MiB':>8s}"
    )
    for side in SIDES:
        step = [t for o in res[side] for t in o["step_s"]]
        gen = [t for o in res[side] for t in o["generate_s"]]
        tok = [t for o in res[side] for t in o["tokens"]]
        med[side] = statistics.median(step)
        g = statistics.median(gen) if gen else float("nan")
        rss[side] = max(o["peak_rss_mib"] for o in res[side])
        print(
            f"  {side:7s} {med[side]:7.3f} {g:9.3f} {med[side] - g:7.3f} "
            f"{statistics.mean(tok) if tok else float('nan'):9.1f} {rss[side]:8.0f}"
        )
    return med["TRL"] / med["mmrft"], rss["mmrft"] / rss["TRL"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    ap.add_argument("--rounds", type=int, default=2, help="rounds per side, alternating A-B-B-A")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps at a round's start")
    ap.add_argument("--prompts", type=int, default=4, help="prompts per step")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt (G)")
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    ap.add_argument("--set", action="append", default=[], help="mmrft config override key=value")
    ap.add_argument("--smoke", action="store_true", help="builtin tiny sizes, 1 round, 1 step")
    ap.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)  # child process
    ap.add_argument("--model", help=argparse.SUPPRESS)  # child: the saved model's dir
    args = ap.parse_args()
    if args.side:
        run_side(args)
        return
    if args.smoke:
        args.rounds, args.steps, args.warmup = 1, 1, 0
        args.prompts, args.group, args.max_new_tokens = 2, 2, 4

    import platform

    import torch

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, {args.threads} thread(s) per process, float32; {load()}"
    )
    print(
        f"{args.prompts} prompts x G={args.group} x <= {args.max_new_tokens} new tokens; "
        f"{args.rounds} rounds x {args.steps} timed steps per side (after {args.warmup} warm-up)"
    )
    lines = []
    with tempfile.TemporaryDirectory(prefix="mmrft-bench-") as tmp:
        dirs = build_models(args.models, Path(tmp), args.smoke)
        for name, model_dir in dirs.items():
            speed, memory = compare(args, name, model_dir)
            lines.append(f"{name}: speedup_vs_trl={speed:.2f} memory_vs_trl={memory:.2f}")
    print(f"after: {load()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
