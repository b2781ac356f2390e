"""``mmrft sft``: supervised fine-tuning on chat data or reasoning traces, as a stage of its own.

Design note: one stage function, ``sft_stage``, loads a policy, trains it with
``trainer.sft.train_sft`` and exports a plain ``from_pretrained`` model; both ``run_sft`` (this
command) and the cold start of ``mmrft train`` (``build.train.run``) call it, so SFT has one code
path. ``run_sft`` adds what a stage command owes its run directory (the stage contract):

    out_dir/config.yaml        the config as run
    out_dir/checkpoints/       every run.save_every steps and on SIGTERM/SIGINT; a rerun resumes
    out_dir/metrics.jsonl      one row per step: loss, train_exact, train_exact_ema
    out_dir/evals.jsonl        the held-out evaluation before (step 0) and after training
    out_dir/skipped.jsonl      rows that were skipped, and why
    out_dir/model/             the final policy (LoRA merged)
    out_dir/summary.json       accuracy_before/after, greedy_accuracy_before/after, ...
    out_dir/COMPLETE           written last; a rerun then returns the saved summary

What a row teaches (``data.chat``): every assistant turn of ``messages``, else its ``response``
(a reasoning trace), else ``<answer>{answer}</answer>``. A chat row with no assistant turn has
nothing to teach: here it is skipped, counted (``sft_rows_skipped``) and recorded with its reason;
the cold start falls back to the answer for it, as it always has. The held-out evaluation uses
``make_data``'s eval problems (``data.eval_path``, a held-out part of ``data.train_path``, or the
task's) and ``make_reward`` (``rl.reward: task`` scores each sample with its own reward).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import torch

from mmrft.build.components import (
    VAL_BASE,
    held_out_eval,
    make_data,
    make_family,
    make_reward,
    make_sampler,
    make_task,
)
from mmrft.build.stage import MARKER, begin_stage, saved_summary
from mmrft.config import Config
from mmrft.data.chat import missing_reply
from mmrft.data.screen import encode_screen
from mmrft.data.stream import ProblemStream
from mmrft.dataclass_yaml import check
from mmrft.eval.harness import EvalResult
from mmrft.models.families import ModelFamily
from mmrft.models.setup import prepare_policy
from mmrft.trainer.distributed import barrier, is_main
from mmrft.trainer.pipeline import (
    export_policy,
    load_model,
    name_lora_base,
    prepare_dataset,
    rebuild_policy,
    shard,
)
from mmrft.trainer.sft import train_sft
from mmrft.trainer.sharded_eval import evaluate_sharded

log = logging.getLogger(__name__)

Probe = Callable[[str, torch.nn.Module, ModelFamily], None]
"""``probe(moment, model, family)``, called with ``"before"`` and ``"after"`` training."""


def sft_stage(
    cfg: Config,
    stream: ProblemStream,
    *,
    init_path: str,
    work_dir: Path,
    export_dir: Path,
    probe: Probe | None = None,
) -> list[dict[str, float]]:
    """Train ``cfg.sft`` on ``stream`` from the model at ``init_path``; checkpoints under
    ``work_dir`` (resumed from, removed once the model is exported), the final policy as a
    plain model at ``export_dir``. Returns the per-step metrics. Call on every rank."""
    model, processor = load_model(cfg, init_path)
    family = make_family(cfg, model.config.model_type, processor)
    model = shard(cfg, prepare_policy(model, cfg.model), family)
    name_lora_base(model, init_path)
    stream.screen = encode_screen(family)  # a sample the model cannot take is skipped, recorded
    val_check = validation_check(cfg, model, family)
    if probe is not None:
        probe("before", model, family)
    history = train_sft(
        model,
        family,
        stream,
        steps=cfg.sft.steps,
        batch_size=cfg.sft.batch_size,
        lr=cfg.sft.lr,
        warmup_steps=cfg.sft.warmup_steps,
        weight_decay=cfg.sft.weight_decay,
        stop_accuracy=cfg.sft.stop_accuracy,
        micro_batch_size=cfg.sft.micro_batch_size,
        compute_dtype=cfg.model.dtype,
        out_dir=work_dir,
        processor=processor,
        group_by_length=cfg.sft.group_by_length,
        save_every=cfg.run.save_every,
        val_check=val_check,
        val_accuracy=cfg.sft.val_accuracy or 0.0,
        val_every=cfg.sft.val_every,
    )
    if probe is not None:
        probe("after", model, family)
    # The next stage starts from a plain model either way: LoRA adapters are merged.
    export_policy(model, processor, export_dir, lambda: rebuild_policy(cfg, init_path))
    if is_main():
        shutil.rmtree(Path(work_dir) / "checkpoints", ignore_errors=True)
    barrier()
    return history


def validation_check(
    cfg: Config, model: torch.nn.Module, family: ModelFamily
) -> Callable[[], float] | None:
    """``sft.val_accuracy``'s check: greedy accuracy of ``model`` on ``sft.val_size`` problems
    of the run's task, from seeds training and evaluation never use (``VAL_BASE``). ``evaluate``
    restores the RNG, so checking does not change the training trajectory. None when off."""
    if cfg.sft.val_accuracy is None:
        return None
    check(
        not cfg.data.train_path and not cfg.data.mixture,
        "sft.val_accuracy",
        "needs problems generated by data.task (not data.train_path or data.mixture)",
    )
    task = make_task(cfg, family)
    problems = task.dataset(cfg.sft.val_size, cfg.run.seed * 10 + VAL_BASE, cfg.data.level)
    sampler, reward = make_sampler(cfg.rollout, model, family), make_reward(cfg)

    def greedy_accuracy() -> float:
        # evaluate_sharded also samples (n_samples=1 keeps that cheap); the greedy half decides
        result = evaluate_sharded(
            sampler,
            problems,
            reward,
            n_samples=1,
            temperature=cfg.eval.temperature,
            max_new_tokens=cfg.eval.max_new_tokens,
            seed=cfg.run.seed,
        )
        return result.metrics()["greedy_accuracy"]

    return greedy_accuracy


def check_sft_world(cfg: Config, world_size: int) -> None:
    """The SFT batch layout against the world size: every rank gets the same number of rows of
    a step, and a micro-batch fits in them. Raises ``ConfigError`` naming the key."""
    per_rank, micro = cfg.sft.batch_size // world_size, cfg.sft.micro_batch_size
    check(
        micro is None or micro <= per_rank,
        "sft.micro_batch_size",
        f"is {micro}, larger than the {per_rank} samples of a step on each rank",
    )
    check(
        cfg.sft.batch_size % world_size == 0,
        "sft.batch_size",
        f"is {cfg.sft.batch_size}: it must divide evenly among the {world_size} ranks of this "
        "torchrun",
    )


def drop_replyless(stream: ProblemStream, name: str, seed: int) -> tuple[ProblemStream, list]:
    """A dataset stream without its chat rows that have no assistant turn, and the
    ``(sample, reason)`` of each dropped row; a generated stream is returned as it is."""
    if stream.size is None:
        return stream, []
    dropped = [(s, r) for s in stream.samples if (r := missing_reply(s)) is not None]
    if not dropped:
        return stream, []
    gone = {id(s) for s, _ in dropped}
    kept = [s for s in stream.samples if id(s) not in gone]
    log.warning(
        "%s: skipped %d of %d rows with nothing to learn (first: %s)",
        name,
        len(dropped),
        len(stream.samples),
        dropped[0][1],
    )
    if not kept:
        raise ValueError(f"{name}: no row has a target to learn: {dropped[0][1]}")
    return ProblemStream.from_samples(kept, seed, name), dropped


def run_sft(cfg: Config) -> dict:
    """``mmrft sft``: SFT of ``model.name_or_path`` on ``cfg.data``, evaluated before and after
    on the held-out problems; returns the summary also written to ``summary.json``.

    Under torchrun every rank runs this, each training on its share of every step; only rank 0
    writes files. Called again once ``COMPLETE`` exists, it returns the saved summary.
    """
    out = Path(cfg.run.out_dir)
    if (saved := saved_summary(out)) is not None:
        return saved
    world, out, family, t_start = begin_stage(cfg, check_sft_world)
    stream, rl_stream, eval_samples, skipped = make_data(cfg, family)
    rl_stream.prefetch(False)  # an SFT run serves no RL problems
    stream, dropped = drop_replyless(stream, str(cfg.data.train_path), cfg.run.seed)
    skip_dir = out if world.is_main else out / "ranks" / f"rank{world.rank}"
    skip_log = prepare_dataset(cfg, skip_dir, family, (stream,), skipped)
    for sample, reason in dropped:
        skip_log.add({"id": sample.id, "reason": reason})
    reward_fn = make_reward(cfg)
    evals: dict[str, EvalResult] = {}

    def probe(moment: str, model: torch.nn.Module, fam: ModelFamily) -> None:
        if eval_samples:
            sampler = make_sampler(cfg.rollout, model, fam)
            evals[moment] = held_out_eval(cfg, sampler, eval_samples, reward_fn)

    history = sft_stage(
        cfg,
        stream,
        init_path=cfg.model.name_or_path,
        work_dir=out,
        export_dir=out / "model",
        probe=probe,
    )
    if not world.is_main:
        barrier()
        return {}
    summary: dict = {
        "wall_seconds": round(time.time() - t_start, 1),
        "sft_steps": len(history),
        "final_loss": history[-1]["loss"] if history else None,
        "eval_problems": len(eval_samples),
        "eval_samples_per_problem": cfg.eval.n_samples,
        "train_lines_skipped": len(skipped),
        "sft_rows_skipped": len(dropped),
        "train_samples_skipped": skip_log.count("id"),
    }
    rows = []
    for moment, step in (("before", 0), ("after", len(history))):
        if moment in evals:
            metrics = evals[moment].metrics()
            rows.append({"step": step, **metrics})
            for key in ("accuracy", "greedy_accuracy", "reward"):
                summary[f"{key}_{moment}"] = metrics[key]
    (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in history))
    (out / "evals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    from mmrft.report.html import write_report

    write_report(out)
    (out / MARKER).write_text("")
    barrier()
    return summary
