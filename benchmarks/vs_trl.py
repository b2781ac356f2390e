"""mmrft's GRPO step time against TRL's ``GRPOTrainer``: same tiny model, same config, one process.

    python benchmarks/vs_trl.py [--model tiny-qwen2|tiny-qwen2.5-vl] [--steps 8] [--warmup 2]
        [--rounds 2] [--prompts 2] [--group 8] [--max-new-tokens 32] [--threads 1]

Both trainers start from the same weights (the builtin tiny model, seed 0), on the same prompts
(text: "Say something #i."; VLM: the count task at level 2, one image each), with the same reward
(1 if the completion starts with a digit, else 0) and the same GRPO setup: ``--prompts`` prompts
x ``--group`` completions per step, at most ``--max-new-tokens`` tokens, temperature 1, no
top-k/top-p, AdamW at a constant lr with clipping at 1.0, no KL term and no reference model
(beta 0), one optimizer step per generation batch (TRL: ``num_iterations=1``,
``steps_per_generation=1``, ``gradient_accumulation_steps=1``), group-std-normalised advantages
and a token mean over the whole batch (mmrft ``token-mean``, TRL ``dapo``). Evaluation,
checkpoints, TensorBoard and completion logging are off on both sides.

Step time is measured the same way for both: the wall time between consecutive calls of the
reward function, so one interval is one whole loop iteration (update, then the next rollout)
including each trainer's own bookkeeping. ``--warmup`` intervals are dropped; the median of the
next ``--steps`` is kept. With ``--rounds`` > 1 the sides alternate (mmrft, TRL, mmrft, TRL...),
each round a fresh trainer, so a load spike from other jobs hits both; the medians are over all
rounds. ``generate`` is the rollout's time: inside ``model.generate`` for TRL, inside the
rollout engine's ``generate`` for mmrft (which also encodes the prompts and, with
``rollout.share_prefill``, prefills them outside ``model.generate``), ``rest`` the median
step minus that: log-prob forward/backward, optimizer, reward, advantages and bookkeeping.

``--threads`` defaults to 1: on a small machine shared with other jobs, torch's intra-op threads
wait on each other when a core is taken away, and two threads ran a step ~10x slower than one
here. Run it on a quiet machine; it is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from transformers.utils import logging as hf_logging

from mmrft.build import make_objective, make_sampler
from mmrft.config import load_config
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS
from mmrft.trainer.rl import train_rl

MODELS = ("tiny-qwen2", "tiny-qwen2.5-vl")


def starts_with_digit(texts: list[str]) -> list[float]:
    """The shared reward: 1.0 when a completion's first character is a digit, else 0.0."""
    return [float(t[:1].isdigit()) for t in texts]


class StepClock:
    """Times of every reward call (the gaps are the step times) and of every ``generate``."""

    def __init__(self) -> None:
        self.calls: list[float] = []
        self.generate: list[float] = []  # seconds inside model.generate, one entry per step
        self.tokens: list[int] = []  # completion tokens of each step

    def tick(self) -> None:
        self.calls.append(time.perf_counter())

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


def make_samples(model_name: str, n: int) -> list[Sample]:
    """``n`` prompts: plain text for the text model, count-task images for the VLM."""
    if model_name == "tiny-qwen2":
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
                *(getattr(args, "set", None) or []),  # bench_vs_trl.py's --set key=value
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
            return {"overall": starts_with_digit(completions)}

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
        return starts_with_digit([c[0]["content"] for c in completions])

    reward.__name__ = "starts_with_digit"
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
            bf16=False,
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


def machine_info(threads: int) -> str:
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} with {threads} threads, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=MODELS, default="tiny-qwen2")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per round and side")
    ap.add_argument("--warmup", type=int, default=2, help="untimed steps at the start of a round")
    ap.add_argument("--rounds", type=int, default=2, help="alternating mmrft/TRL rounds")
    ap.add_argument("--prompts", type=int, default=2, help="prompts per step")
    ap.add_argument("--group", type=int, default=8, help="completions per prompt (G)")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = ap.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.disable(logging.WARNING)  # both trainers' info/warnings would break up the table
    warnings.filterwarnings("ignore")
    hf_logging.disable_progress_bar()  # mmrft's end-of-run checkpoint save
    torch.set_num_threads(args.threads)
    # interval i runs from reward call i to i + 1: it holds update i and rollout i + 1, so
    # warm-up + timed intervals need one more step than that
    steps = args.warmup + args.steps + 1
    timed = slice(args.warmup + 1, args.warmup + 1 + args.steps)  # per-step lists, same steps
    samples = make_samples(args.model, args.prompts * steps)
    runners: dict[str, Callable[..., StepClock]] = {"mmrft": run_mmrft, "TRL": run_trl}

    print(f"before: {machine_info(torch.get_num_threads())}")
    step_s: dict[str, list[float]] = {name: [] for name in runners}
    gen_s: dict[str, list[float]] = {name: [] for name in runners}
    tokens: dict[str, list[int]] = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            clock = run(args, samples, steps)
            step_s[name] += clock.step_times(args.warmup)
            gen_s[name] += clock.generate[timed]
            tokens[name] += clock.tokens[timed]
            median = statistics.median(clock.step_times(args.warmup))
            print(f"round {r + 1} {name:5s} {median:.4f} s/step  ({machine_info(args.threads)})")
    print(f"after:  {machine_info(torch.get_num_threads())}")

    print(
        f"\n{args.model}: {args.prompts} prompts x {args.group} completions x <= "
        f"{args.max_new_tokens} new tokens per step; medians of {args.rounds} rounds x "
        f"{args.steps} steps per side"
    )
    print(  # generate and rest: see the module docstring
        f"{'trainer':8s} {'s/step':>8s} {'generate':>9s} {'rest':>8s} {'min':>8s} {'max':>8s} "
        f"{'tokens/step':>12s} {'tok/s':>7s}"
    )
    med = {}
    for name in runners:
        med[name] = m = statistics.median(step_s[name])
        gen = statistics.median(gen_s[name])
        tok = statistics.mean(tokens[name])
        print(
            f"{name:8s} {m:8.4f} {gen:9.4f} {m - gen:8.4f} {min(step_s[name]):8.4f} "
            f"{max(step_s[name]):8.4f} {tok:12.1f} {tok / m:7.0f}"
        )
    print(f"ratio TRL / mmrft (median s/step): {med['TRL'] / med['mmrft']:.2f}x")


if __name__ == "__main__":
    main()
