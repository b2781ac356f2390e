"""mmrft's GRPO step against TRL's ``GRPOTrainer`` on a ~20M text Qwen2 and a ~18M Qwen2.5-VL.

    python benchmarks/bench_vs_trl.py [--models text vlm] [--rounds 2] [--steps 3] [--warmup 2]
        [--prompts 4] [--group 8] [--max-new-tokens 48] [--threads 1] [--set key=value ...]
        [--precision fp32|bf16] [--reward even_length|starts_with_digit] [--builtin-size]
    python benchmarks/bench_vs_trl.py --smoke     # builtin-size models, one step: seconds

Both models are built offline from configs (``TINY_MODELS`` with size overrides, random
weights; ``--builtin-size``: the builtin tiny sizes) and saved to a temporary directory; every
run loads them from there, so both trainers start from the same weights. ``text``: Qwen2,
width 512, 8 layers, 8 heads (21.3M parameters). ``vlm``: Qwen2.5-VL, width 384, 10 layers,
6 heads, a 4-layer 192-wide vision encoder, 336x336 pixel budget: 24x24 patches merged 2x2 =
144 image tokens per prompt (17.8M parameters).

Matched settings: the same prompts (text: "Say something #i."; VLM: the count task at level 2,
one image each), the same reward and the same GRPO setup: ``--prompts`` prompts x ``--group`` completions per step, at most
``--max-new-tokens`` tokens, temperature 1, no top-k/top-p, float32 (``--precision bf16``:
bf16 autocast with float32 master weights on both sides, mmrft ``model.dtype=bfloat16`` and
TRL ``bf16=True``), AdamW at a constant lr with
clipping at 1.0, no KL term and no reference model (beta 0), one optimizer step per generation
batch (TRL: ``num_iterations=1``, ``steps_per_generation=1``, ``gradient_accumulation_steps=1``),
group-std-normalised advantages and a token mean over the whole batch (mmrft ``token-mean``, TRL
``dapo``). TRL's activation checkpointing is switched off (mmrft's is). Evaluation,
checkpoints, TensorBoard and completion logging are off on both sides.

The reward (``--reward``): ``even_length`` (default), 1 if the completion has an even number of
characters: about half of an untrained model's completions, so nearly every group has a
learning signal and both sides do the same work; ``starts_with_digit``: 1 if it starts with a
digit, which an untrained model almost never does, so nearly every group scores alike and its
advantages are 0 (mmrft's ``rl.skip_zero_advantage`` then leaves those rows out of the update:
its best case, not a like-for-like comparison). Each side prints the share of groups that
scored alike (``const``).

Step time is measured the same way for both: the wall time between consecutive calls of the
reward function, so one interval is one whole loop iteration (update, then the next rollout)
including each trainer's own bookkeeping; ``--warmup`` intervals are dropped. ``generate`` is
the rollout's time: inside ``model.generate`` for TRL, inside the rollout engine's ``generate``
for mmrft (which also encodes the prompts and, with ``rollout.share_prefill``, prefills them
outside ``model.generate``); ``rest`` is the median step minus that.

Each (trainer, round) runs in its own process, so imports, allocator state and the peak RSS
are each side's own. Rounds alternate A-B-B-A (mmrft, TRL, TRL, mmrft, ...), so a load change
from other jobs hits both sides. ``--threads`` defaults to 1: on a small machine shared with
other jobs, torch's intra-op threads wait on each other when a core is taken away.

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
import logging
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from mmrft.build import make_objective, make_sampler
from mmrft.config import load_config
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy, save_policy
from mmrft.models.tiny import TINY_MODELS
from mmrft.tasks import TASKS
from mmrft.trainer.rl import train_rl

SIDES = ("mmrft", "TRL")

# name -> (builtin tiny model, size overrides); --builtin-size (and --smoke) keep the defaults
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


def build_models(names: list[str], out: Path, builtin_size: bool) -> dict[str, Path]:
    """Build each model from its config (seed 0) and save it under ``out``; returns the dirs."""
    dirs = {}
    for name in names:
        builtin, sizes = MODELS[name]
        model, processor = TINY_MODELS.get(builtin)(0, **({} if builtin_size else sizes))
        dirs[name] = out / name
        save_policy(model, processor, dirs[name])
        n_params = sum(p.numel() for p in model.parameters())
        print(
            f"{name}: {builtin} {'builtin size' if builtin_size else sizes}, {n_params / 1e6:.1f}M"
        )
    return dirs


def even_length(texts: list[str]) -> list[float]:
    """1.0 when a completion has an even number of characters: about half of them."""
    return [float(len(t) % 2 == 0) for t in texts]


def starts_with_digit(texts: list[str]) -> list[float]:
    """1.0 when a completion's first character is a digit: almost none of an untrained model's."""
    return [float(t[:1].isdigit()) for t in texts]


REWARDS = {"even_length": even_length, "starts_with_digit": starts_with_digit}


class StepClock:
    """Times of every reward call (the gaps are the step times) and of every ``generate``."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.generate: list[float] = []  # seconds inside model.generate, one entry per step
        self.tokens: list[int] = []  # completion tokens of each step
        self.constant: list[float] = []  # share of each step's groups that scored alike

    def tick(self) -> None:
        self.calls.append(time.perf_counter())

    def score(self, reward: str, texts: list[str], group: int) -> list[float]:
        """The shared reward of one step's completions (group-contiguous), noting how many of
        its groups scored alike."""
        scores = REWARDS[reward](texts)
        groups = [scores[i : i + group] for i in range(0, len(scores), group)]
        self.constant.append(sum(len(set(g)) == 1 for g in groups) / len(groups))
        return scores

    def step_times(self, warmup: int) -> list[float]:
        gaps = [b - a for a, b in zip(self.calls, self.calls[1:], strict=False)]
        return gaps[warmup:]

    def time_generate(self, model: object) -> None:
        """Wrap ``model.generate`` (a model's or a rollout engine's) to time the rollout."""
        inner = model.generate

        def timed(*args: object, **kwargs: object) -> torch.Tensor:
            start = time.perf_counter()
            out = inner(*args, **kwargs)
            self.generate.append(time.perf_counter() - start)
            return out

        model.generate = timed


def make_samples(family: object, n: int) -> list[Sample]:
    """``n`` prompts: plain text for a text model, count-task images (level 2) for a VLM."""
    if not family.multimodal:
        return [Sample(id=str(i), prompt=f"Say something #{i % 7}.", answer="") for i in range(n)]
    task = TASKS.get("count")()
    return [task.generate(seed, 2) for seed in range(n)]


def run_mmrft(args: argparse.Namespace, samples: list[Sample], steps: int) -> StepClock:
    """``steps`` GRPO steps of mmrft's own loop; returns the reward-call clock."""
    clock = StepClock()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(
            None,
            [
                f"run.out_dir={tmp}",
                f"rl.steps={steps}",
                f"rl.lr={args.lr}",
                "rl.max_grad_norm=1.0",
                "rl.weight_decay=0.0",
                "rl.eval_every=1000000",
                "run.save_every=1000000",
                "run.tensorboard=false",
                "run.resume=false",
                f"rollout.prompts_per_step={args.prompts}",
                f"rollout.group_size={args.group}",
                f"rollout.max_new_tokens={args.max_new_tokens}",
                "rollout.temperature=1.0",
                "algorithm.adv_estimator=grpo",
                "algorithm.norm_by_std=true",
                "algorithm.loss_agg_mode=token-mean",
                "algorithm.kl_coef=0.0",
                "algorithm.ppo_epochs=1",
                "algorithm.mini_batches=1",
                f"model.dtype={'bfloat16' if args.precision == 'bf16' else 'float32'}",
                *args.set,  # --set key=value: mmrft only
            ],
        )
        torch.manual_seed(0)
        model, processor = load_policy(args.model, seed=0)
        family = family_for(model.config.model_type, processor)
        sampler = make_sampler(cfg.rollout, model, family)
        clock.time_generate(sampler)  # the whole rollout: encode, shared prefill, decode
        stream = ProblemStream(lambda i, level: samples[i % len(samples)])

        def reward_fn(completions: list[str], batch: list[Sample]) -> dict[str, list[float]]:
            clock.tick()
            return {"overall": clock.score(args.reward, completions, args.group)}

        train_rl(
            cfg,
            model,
            processor,
            family,
            stream=stream,
            reward_fn=reward_fn,
            eval_samples=[],
            objective=make_objective(cfg.algorithm),
            sampler=sampler,
        )
        rows = [json.loads(x) for x in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    n = args.prompts * args.group
    clock.tokens = [round(r["response_length/mean"] * n) for r in rows]
    return clock


def run_trl(args: argparse.Namespace, samples: list[Sample], steps: int) -> StepClock:
    """``steps`` GRPO steps of TRL's ``GRPOTrainer`` on the same model and prompts."""
    from datasets import Dataset
    from transformers import PrinterCallback
    from trl import GRPOConfig, GRPOTrainer

    clock = StepClock()
    torch.manual_seed(0)
    model, processor = load_policy(args.model, seed=0)
    family = family_for(model.config.model_type, processor)
    clock.time_generate(model)
    rows = []
    for s in samples:  # the same chat messages mmrft's family builds for the sample
        row = {"prompt": family.messages(s)}
        if family.multimodal:
            row["images"] = s.images
        rows.append(row)

    def reward(completions: list, completion_ids: list[list[int]], **_: object) -> list[float]:
        clock.tick()
        clock.tokens.append(sum(len(c) for c in completion_ids))
        return clock.score(args.reward, [c[0]["content"] for c in completions], args.group)

    reward.__name__ = args.reward
    with tempfile.TemporaryDirectory() as tmp:
        config = GRPOConfig(
            output_dir=tmp,
            max_steps=steps,
            per_device_train_batch_size=args.prompts * args.group,
            gradient_accumulation_steps=1,
            steps_per_generation=1,
            num_iterations=1,
            num_generations=args.group,
            max_completion_length=args.max_new_tokens,
            temperature=1.0,
            top_p=1.0,
            top_k=0,
            learning_rate=args.lr,
            lr_scheduler_type="constant",
            warmup_steps=0,
            weight_decay=0.0,
            max_grad_norm=1.0,
            optim="adamw_torch",
            activation_checkpointing=False,  # TRL turns it on by default; mmrft's is off
            beta=0.0,
            loss_type="dapo",
            scale_rewards="group",
            use_cpu=True,
            bf16=args.precision == "bf16",
            fp16=False,
            report_to=[],
            logging_strategy="no",
            save_strategy="no",
            eval_strategy="no",
            log_completions=False,
            disable_tqdm=True,
            shuffle_dataset=False,
            dataloader_num_workers=0,
            seed=0,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=reward,
            args=config,
            train_dataset=Dataset.from_list(rows),
            processing_class=processor,
        )
        trainer.remove_callback(PrinterCallback)  # it prints the end-of-run metrics dict
        trainer.train()
    return clock


def run_side(args: argparse.Namespace) -> None:
    """Child process: one trainer's round on the saved model; prints one JSON line."""
    logging.disable(logging.WARNING)  # both trainers' info/warnings would break up the output
    warnings.filterwarnings("ignore")
    hf_logging.disable_progress_bar()  # mmrft's end-of-run checkpoint save
    torch.set_num_threads(args.threads)

    steps = args.warmup + args.steps + 1  # interval i runs from reward call i to i + 1
    timed = slice(args.warmup + 1, args.warmup + 1 + args.steps)
    model, processor = load_policy(args.model, seed=0)  # only to tell text from vision
    family = family_for(model.config.model_type, processor)
    del model
    samples = make_samples(family, args.prompts * steps)
    clock = (run_mmrft if args.side == "mmrft" else run_trl)(args, samples, steps)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "step_s": clock.step_times(args.warmup),
        "generate_s": clock.generate[timed],
        "tokens": clock.tokens[timed],
        "constant_groups": clock.constant[timed],
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
        *("--lr", str(args.lr), "--precision", args.precision, "--reward", args.reward),
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
        f"  {'trainer':7s} {'s/step':>7s} {'generate':>9s} {'rest':>7s} {'tok/step':>9s} "
        f"{'RSS MiB':>8s} {'const':>6s}"
    )
    for side in SIDES:
        step = [t for o in res[side] for t in o["step_s"]]
        gen = [t for o in res[side] for t in o["generate_s"]]
        tok = [t for o in res[side] for t in o["tokens"]]
        med[side] = statistics.median(step)
        g = statistics.median(gen) if gen else float("nan")
        rss[side] = max(o["peak_rss_mib"] for o in res[side])
        const = [c for o in res[side] for c in o["constant_groups"]]
        print(
            f"  {side:7s} {med[side]:7.3f} {g:9.3f} {med[side] - g:7.3f} "
            f"{statistics.mean(tok) if tok else float('nan'):9.1f} {rss[side]:8.0f} "
            f"{statistics.mean(const) if const else float('nan'):6.2f}"
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
    ap.add_argument(
        "--precision",
        choices=["fp32", "bf16"],
        default="fp32",
        help="compute dtype on both sides (bf16: autocast, float32 master weights)",
    )
    ap.add_argument(
        "--reward",
        choices=list(REWARDS),
        default="even_length",
        help="even_length: most groups informative; starts_with_digit: most groups alike",
    )
    ap.add_argument("--set", action="append", default=[], help="mmrft config override key=value")
    ap.add_argument("--builtin-size", action="store_true", help="the builtin tiny model sizes")
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

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, {args.threads} thread(s) per process, float32; {load()}"
    )
    print(
        f"{args.prompts} prompts x G={args.group} x <= {args.max_new_tokens} new tokens, reward "
        f"{args.reward}; "
        f"{args.rounds} rounds x {args.steps} timed steps per side (after {args.warmup} warm-up)"
    )
    lines = []
    with tempfile.TemporaryDirectory(prefix="mmrft-bench-") as tmp:
        dirs = build_models(args.models, Path(tmp), args.builtin_size or args.smoke)
        for name, model_dir in dirs.items():
            speed, memory = compare(args, name, model_dir)
            lines.append(f"{name}: speedup_vs_trl={speed:.2f} memory_vs_trl={memory:.2f}")
    print(f"after: {load()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
