"""Recipe study of the ``mmrft demo``: named variants of its recipe over seeds, as an ablation
table (docs/recipes.md).

    python benchmarks/recipe_study.py --out /tmp/learn [--variants default,warmup-cosine]
        [--seeds 0,1,2] [--steps 500] [--jobs 2] [--noise-seeds 5]

Each variant is a list of ``key=value`` overrides of the demo recipe; each (variant, seed) runs
``mmrft demo --out OUT/<variant>-s<seed> --seed <seed> <overrides>`` in a subprocess (``--jobs``
at a time), and is skipped when its summary.json already exists, so a study resumes. Variants
that change no ``sft.``/``data.``/``model.``/``run.`` key share the cold start: a finished
``sft/`` of the same seed is copied in, since SFT does not read the RL keys.

Per run it reads summary.json and evals.jsonl: the sampled and greedy gain (mean of the last
``rl.eval_last_k`` evaluations minus step 0), the largest drop (an evaluation after the first
fifth of RL, step 100 of 500, below the best one before it; ``trainer.pipeline.largest_drop``)
and the OOD check if it was on. The ``eval-noise`` row re-evaluates each seed's final
``default`` policy with ``--noise-seeds`` sampling seeds on the same problems: the spread of
one checkpoint's sampled accuracy, against which a drop between evaluations can be judged.

Writes OUT/study.md (the tables) and OUT/study.json; prints the tables. A measurement, not a
test: wall times depend on the machine's load, recorded beside them (1-minute load average,
sampled while each run ran).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from mmrft.trainer.pipeline import largest_drop

VARIANTS: dict[str, list[str]] = {
    "default": [],
    # learning rate and schedule
    "lr-5e-5": ["rl.lr=5e-5"],
    "lr-2e-4": ["rl.lr=2e-4"],
    "warmup": ["rl.warmup_steps=20"],
    "warmup-cosine": ["rl.warmup_steps=20", "rl.lr_schedule=cosine", "rl.min_lr_ratio=0.1"],
    "warmup-cosine-lr-2e-4": [
        "rl.lr=2e-4",
        "rl.warmup_steps=20",
        "rl.lr_schedule=cosine",
        "rl.min_lr_ratio=0.1",
    ],
    # AdamW's second moment: a sudden large gradient is amplified less at 0.99 than at 0.999
    "warmup-cosine-beta2-0.99": [
        "rl.warmup_steps=20",
        "rl.lr_schedule=cosine",
        "rl.min_lr_ratio=0.1",
        "rl.adam_beta2=0.99",
    ],
    "warmup-cosine-beta2-0.99-lr-1.5e-4": [
        "rl.lr=1.5e-4",
        "rl.warmup_steps=20",
        "rl.lr_schedule=cosine",
        "rl.min_lr_ratio=0.1",
        "rl.adam_beta2=0.99",
    ],
    # KL to the cold start
    "kl-k3-0.01": ["algorithm.kl_coef=0.01", "algorithm.kl_estimator=k3"],
    "kl-k3-0.05": ["algorithm.kl_coef=0.05", "algorithm.kl_estimator=k3"],
    "kl-k2-0.01": ["algorithm.kl_coef=0.01", "algorithm.kl_estimator=k2"],
    # group size and prompts per step (same 128 completions per step unless stated)
    "group-16x8": ["rollout.group_size=16", "rollout.prompts_per_step=8"],
    "group-4x32": ["rollout.group_size=4", "rollout.prompts_per_step=32"],
    "prompts-32": ["rollout.prompts_per_step=32"],
    # the demo's 64k completions in half the steps, each from twice the prompts: a gradient
    # with half the variance per update, a peak lr raised ~sqrt(2) for the halved step count
    "prompts-32-steps-250-lr-2e-4": [
        "rollout.prompts_per_step=32",
        "rl.steps=250",
        "rl.eval_every=25",
        "rl.warmup_steps=10",
        "rl.lr=2e-4",
    ],
    # loss shape. With one update per rollout (the demo) the importance ratio is exactly 1, so
    # the clip bounds never bind and clip-higher alone is the default's computation; the mini-2
    # pair (two optimizer steps per rollout, the second off-policy) is where it can act.
    "clip-higher": ["algorithm.clip_high=0.28"],
    "mini-2": ["algorithm.mini_batches=2"],
    "mini-2-clip-higher": ["algorithm.mini_batches=2", "algorithm.clip_high=0.28"],
    "grad-clip-0.5": ["rl.max_grad_norm=0.5"],
    # AdamW steps a zero-initialised bias as far as any weight; frozen, they cannot shift
    # every position's answer at once (Study 4; demo.yaml freezes them since, so on today's
    # checkout `freeze-biases` is `default` and `train-biases` the ablation)
    "freeze-biases": ["rl.bias_lr_scale=0"],
    "train-biases": ["rl.bias_lr_scale=1"],
    "seq-agg": ["algorithm.loss_agg_mode=seq-mean-token-mean"],
    "entropy-1e-3": ["algorithm.entropy_coef=0.001"],
    "dynamic-sampling": ["rollout.dynamic_sampling=true"],
    # dynamic sampling's extra rollout rounds cost ~30% per step here: 400 steps keep the wall
    # time of the default's 500
    "dynamic-sampling-steps-400": ["rollout.dynamic_sampling=true", "rl.steps=400"],
    # the cold start's stopping point
    "sft-stop-0.30": ["sft.stop_accuracy=0.30"],
    "sft-stop-0.45": ["sft.stop_accuracy=0.45"],
}
EVAL_NOISE = "eval-noise"
SFT_KEYS = ("sft.", "data.", "model.", "run.")  # keys the cold start reads


def run_dir(out: Path, variant: str, seed: int) -> Path:
    return out / f"{variant}-s{seed}"


def overrides_for(variant: str, steps: int | None) -> list[str]:
    extra = [] if steps is None else [f"rl.steps={steps}", f"rl.eval_every={max(steps // 10, 1)}"]
    return [*VARIANTS[variant], *extra]


def share_cold_start(out: Path, variant: str, seed: int) -> bool:
    """Copy a finished cold start of ``seed`` into the run, unless the variant changes SFT;
    True if copied (the run's wall time then leaves out SFT)."""
    dest = run_dir(out, variant, seed) / "sft"
    if any(o.startswith(SFT_KEYS) for o in VARIANTS[variant]) or dest.exists():
        return False
    for name, over in VARIANTS.items():
        src = run_dir(out, name, seed) / "sft"
        if not any(o.startswith(SFT_KEYS) for o in over) and (src / "COMPLETE").exists():
            shutil.copytree(src, dest, ignore=shutil.ignore_patterns("checkpoints"))
            return True
    return False


def launch(out: Path, variant: str, seed: int, steps: int | None) -> subprocess.Popen:
    d = run_dir(out, variant, seed)
    d.mkdir(parents=True, exist_ok=True)
    if share_cold_start(out, variant, seed):
        (d / "shared_cold_start").write_text("")
    cmd = [sys.executable, "-m", "mmrft.cli", "demo", "--out", str(d), "--seed", str(seed)]
    log = (out / f"{variant}-s{seed}.log").open("w")
    return subprocess.Popen([*cmd, *overrides_for(variant, steps)], stdout=log, stderr=log)


def run_all(out: Path, todo: list[tuple[str, int]], steps: int | None, jobs: int) -> None:
    """Run the (variant, seed) pairs ``jobs`` at a time, recording wall time and load."""
    todo = [(v, s) for v, s in todo if not (run_dir(out, v, s) / "summary.json").exists()]
    running: dict[tuple[str, int], tuple[subprocess.Popen, float, list[float]]] = {}
    while todo or running:
        while todo and len(running) < jobs:
            key = todo.pop(0)
            print(f"start {key[0]} seed {key[1]}", flush=True)
            running[key] = (launch(out, *key, steps), time.time(), [])
        time.sleep(20)
        for key, (proc, t0, loads) in list(running.items()):
            loads.append(os.getloadavg()[0])
            if proc.poll() is None:
                continue
            del running[key]
            meta = {"returncode": proc.returncode, "wall_s": round(time.time() - t0, 1)}
            meta["load_mean"] = round(statistics.fmean(loads), 2)
            (run_dir(out, *key) / "run_meta.json").write_text(json.dumps(meta))
            print(f"done {key[0]} seed {key[1]}: {meta}", flush=True)


def run_row(out: Path, variant: str, seed: int) -> dict | None:
    """One run's figures, or None if it has not finished."""
    d = run_dir(out, variant, seed)
    if not (d / "summary.json").exists():
        return None
    s = json.loads((d / "summary.json").read_text())
    evals = [json.loads(x) for x in (d / "evals.jsonl").read_text().splitlines() if x.strip()]
    after_step = s["rl_steps"] // 5
    meta_path = d / "run_meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    row = {
        "variant": variant,
        "seed": seed,
        "sampled": (s["accuracy_before"], s["accuracy_after"]),
        "greedy": (s["greedy_accuracy_before"], s["greedy_accuracy_after"]),
        "drop": largest_drop(evals, after_step, "accuracy"),
        "greedy_drop": largest_drop(evals, after_step, "greedy_accuracy"),
        "wall_s": meta.get("wall_s", s["wall_seconds"]),
        "load": meta.get("load_mean"),
        "sft_reused": (d / "shared_cold_start").exists(),
    }
    if "ood_accuracy_before" in s:
        row["ood"] = (s["ood_accuracy_before"], s["ood_accuracy_after"])
        row["ood_greedy"] = (s["ood_greedy_accuracy_before"], s["ood_greedy_accuracy_after"])
    return row


def eval_noise(out: Path, seed: int, n_seeds: int) -> list[float] | None:
    """Sampled accuracy of the final ``default`` policy of ``seed`` on its own held-out
    problems, once per sampling seed 0..n_seeds-1 (the same problems every time)."""
    d = run_dir(out, "default", seed)
    cache = d / f"eval_noise_{n_seeds}.json"  # evaluated once; a rerun of the study reads it
    if cache.exists():
        return json.loads(cache.read_text())
    if not (d / "model").exists():
        return None
    from mmrft.build import make_data, make_reward, make_sampler
    from mmrft.config import load_config
    from mmrft.eval.harness import evaluate
    from mmrft.models import family_for, load_policy

    cfg = load_config(d / "config.yaml", ["data.prefetch=false"])
    model, processor = load_policy(str(d / "model"))
    family = family_for(model.config.model_type, processor)
    problems = make_data(cfg, family)[2]
    sampler, reward = make_sampler(cfg.rollout, model, family), make_reward(cfg)
    e = cfg.eval
    accuracies = [
        evaluate(
            sampler,
            problems,
            reward,
            n_samples=e.n_samples,
            temperature=e.temperature,
            max_new_tokens=e.max_new_tokens,
            seed=k,
        ).accuracy
        for k in range(n_seeds)
    ]
    cache.write_text(json.dumps(accuracies))
    return accuracies


def _ms(values: list[float]) -> str:
    """mean ± sd [min, max] of ``values`` (sd over seeds, n - 1 in the denominator)."""
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):+.3f} ± {sd:.3f} [{min(values):+.3f}, {max(values):+.3f}]"


def tables(rows: list[dict], noise: dict[int, list[float]]) -> str:
    """The ablation table (one row per variant) and the per-run table, as markdown."""
    lines = [
        "| variant | overrides | seeds | sampled gain | greedy gain | largest drop (sampled) "
        "| largest drop (greedy) | OOD sampled gain |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant in dict.fromkeys(r["variant"] for r in rows):
        rs = [r for r in rows if r["variant"] == variant]
        ood = [r["ood"][1] - r["ood"][0] for r in rs if "ood" in r]
        cells = [
            variant,
            " ".join(f"`{o}`" for o in VARIANTS[variant]) or "(demo.yaml)",
            ",".join(str(r["seed"]) for r in rs),
            _ms([r["sampled"][1] - r["sampled"][0] for r in rs]),
            _ms([r["greedy"][1] - r["greedy"][0] for r in rs]),
            _ms([r["drop"] for r in rs]),
            _ms([r["greedy_drop"] for r in rs]),
            _ms(ood),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    for seed, accs in noise.items():
        cells = [EVAL_NOISE, f"final `default` policy, {len(accs)} sampling seeds", str(seed)]
        spread = f"sd {statistics.stdev(accs):.3f}, range {max(accs) - min(accs):.3f}"
        lines.append("| " + " | ".join([*cells, spread, "0 (deterministic)", "–", "–", "–"]) + " |")
    lines += [
        "",
        "| variant | seed | sampled before → after | greedy before → after | largest drop "
        "(sampled / greedy) | OOD sampled / greedy before → after | wall | load |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ood = "–"
        if "ood" in r:
            ood = (
                f"{r['ood'][0]:.3f} → {r['ood'][1]:.3f} / "
                f"{r['ood_greedy'][0]:.3f} → {r['ood_greedy'][1]:.3f}"
            )
        cells = [
            r["variant"],
            str(r["seed"]),
            f"{r['sampled'][0]:.3f} → {r['sampled'][1]:.3f} ({r['sampled'][1] - r['sampled'][0]:+.3f})",
            f"{r['greedy'][0]:.3f} → {r['greedy'][1]:.3f} ({r['greedy'][1] - r['greedy'][0]:+.3f})",
            f"{r['drop']:.3f} / {r['greedy_drop']:.3f}",
            ood,
            f"{r['wall_s'] / 60:.1f} min" + (" (RL only)" if r["sft_reused"] else ""),
            "–" if r["load"] is None else f"{r['load']:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="study folder (outside the repo)")
    ap.add_argument("--variants", default="default,warmup-cosine",
                    help=f"comma-separated, from: {', '.join([*VARIANTS, EVAL_NOISE])}")  # fmt: skip
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=None, help="RL steps (default: the demo's 500)")
    ap.add_argument("--jobs", type=int, default=2, help="runs at a time (2 on a 2-core CPU)")
    ap.add_argument("--noise-seeds", type=int, default=5, help="sampling seeds of eval-noise")
    ap.add_argument("--report-only", action="store_true", help="tabulate finished runs only")
    args = ap.parse_args()
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS and v != EVAL_NOISE]
    if unknown:
        ap.error(f"unknown variants {unknown}; known: {[*VARIANTS, EVAL_NOISE]}")
    seeds = [int(s) for s in args.seeds.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    trained = [v for v in variants if v != EVAL_NOISE]
    if not args.report_only:
        run_all(args.out, [(v, s) for v in trained for s in seeds], args.steps, args.jobs)
    rows = [r for v in trained for s in seeds if (r := run_row(args.out, v, s)) is not None]
    noise = {}
    if EVAL_NOISE in variants:
        noise = {s: a for s in seeds if (a := eval_noise(args.out, s, args.noise_seeds))}
    text = tables(rows, noise)
    (args.out / "study.md").write_text(text)
    (args.out / "study.json").write_text(json.dumps({"runs": rows, "eval_noise": noise}))
    print(text)


if __name__ == "__main__":
    main()
