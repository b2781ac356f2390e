"""mmrft against itself: one GRPO step under config variants, alternating, each in its own process.

    python benchmarks/ablate_mmrft.py \\
        --variant before="rollout.onednn_weights=never run.retain_freed_memory=false" \\
        --variant now= [--models text] [--rounds 2] [--steps 6] [--warmup 2]
        [--reward even_length|starts_with_digit]
    python benchmarks/ablate_mmrft.py --smoke    # builtin-size models, one step: seconds

The models, settings and step clock are ``bench_vs_trl.py``'s (its mmrft side, with each
variant's overrides passed as ``--set``); only mmrft runs, so a change is measured against the
code without it on the same machine minutes apart, the rounds rotating through the variants
(A-B-C, C-B-A, ...) so that a load change hits each. On a VM whose speed drifts between rounds
this is a steadier measure of one change than the ratio against TRL.

A variant is ``NAME=key=value key=value ...`` (``NAME=`` alone: today's defaults). Printed per
variant: median s/step, ``generate`` (the rollout) and the rest (mostly the update), peak RSS;
the last line per model, ``text: NAME=X.XXx ...``, is the first variant's s/step over each
variant's (> 1: faster than the first). A measurement, not a test: read the load it prints.
"""

from __future__ import annotations

import argparse
import copy
import re
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_vs_trl import MODELS, REWARDS, build_models, child, load  # noqa: E402  (one definition)


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``NAME=k=v k=v`` -> (NAME, [k=v, k=v]).

    >>> parse_variant("before=rollout.onednn_weights=never run.retain_freed_memory=false")
    ('before', ['rollout.onednn_weights=never', 'run.retain_freed_memory=false'])
    >>> parse_variant("now=")
    ('now', [])
    """
    name, sep, rest = text.partition("=")
    overrides = rest.split()
    if not sep or not re.fullmatch(r"[\w-]+", name) or not all("=" in x for x in overrides):
        raise argparse.ArgumentTypeError(f"--variant {text!r} must look like NAME=key=value ...")
    return name, overrides


def ablate(args: argparse.Namespace, name: str, model_dir: Path) -> list[float]:
    """Rotating rounds of every variant on one model; prints the table, returns median s/step."""
    res: dict[str, list[dict]] = {v: [] for v, _ in args.variant}
    for r in range(args.rounds):
        for variant, overrides in args.variant if r % 2 == 0 else args.variant[::-1]:
            run_args = copy.copy(args)
            run_args.set = overrides
            out = child(run_args, "mmrft", model_dir)
            res[variant].append(out)
            print(
                f"  {name} round {r + 1} {variant:12s} "
                f"{statistics.median(out['step_s']):7.3f} s/step ({load()})",
                flush=True,
            )
    print(
        f"  {'variant':12s} {'s/step':>7s} {'generate':>9s} {'rest':>7s} {'RSS MiB':>8s} "
        f"{'const':>6s}"
    )
    medians = []
    for variant, outs in res.items():
        step = statistics.median(t for o in outs for t in o["step_s"])
        gen = statistics.median(t for o in outs for t in o["generate_s"])
        rss = max(o["peak_rss_mib"] for o in outs)
        const = statistics.mean(c for o in outs for c in o["constant_groups"])
        print(f"  {variant:12s} {step:7.3f} {gen:9.3f} {step - gen:7.3f} {rss:8.0f} {const:6.2f}")
        medians.append(step)
    return medians


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", type=parse_variant, default=[])
    ap.add_argument("--models", nargs="+", choices=list(MODELS), default=["text"])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--steps", type=int, default=6, help="timed steps per round")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps at a round's start")
    ap.add_argument("--prompts", type=int, default=4)
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--reward", choices=list(REWARDS), default="even_length")
    ap.add_argument("--smoke", action="store_true", help="builtin tiny sizes, 1 round, 1 step")
    args = ap.parse_args()
    if len(args.variant) < 2:
        ap.error("give at least two --variant NAME=overrides (NAME= for the defaults)")
    if args.smoke:
        args.rounds, args.steps, args.warmup = 1, 1, 0
        args.prompts, args.group, args.max_new_tokens = 2, 2, 4
    print(f"{args.rounds} rounds x {args.steps} timed steps per variant; {load()}")
    lines = []
    with tempfile.TemporaryDirectory(prefix="mmrft-ablate-") as tmp:
        for name, model_dir in build_models(args.models, Path(tmp), args.smoke).items():
            medians = ablate(args, name, model_dir)
            ratios = " ".join(
                f"{v}={medians[0] / m:.2f}x"
                for (v, _), m in zip(args.variant, medians, strict=True)
            )
            lines.append(f"{name}: {ratios}")
    print(f"after: {load()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
