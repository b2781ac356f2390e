"""`mmrft distill` and `mmrft rft`: a teacher's verified traces, then SFT of the student on them.

Design note: one round is four steps, the same for both commands.

1. the teacher samples ``distill.k`` traces for each of ``distill.prompts`` training problems
   (``cfg.data``: a task or ``data.train_path``) and the run's reward scores them
   (``trainer.distill.sample_traces``);
2. ``distill.keep`` selects correct traces; they are written as a standard SFT dataset with
   ``stats.json`` (kept fraction, teacher pass@k, mean lengths) under ``<round dir>/data/``;
3. the student is fine-tuned on that file by ``mmrft sft``'s own stage function (``run_sft``,
   ``sft.*`` settings, ``data.train_path`` pointed at the file) in ``<round dir>/sft/``, which
   evaluates it on the held-out problems before and after;
4. its exported model is copied to ``<round dir>/model``.

``run_distill``: one round in ``out_dir``, teacher ``distill.name_or_path``, student
``model.name_or_path``. ``run_rft`` (rejection-sampling fine-tuning, expert iteration): the
policy is its own teacher for ``distill.rounds`` rounds in ``out_dir/round-<r>/``, each round
sampling new problems with the model the previous round exported, and fine-tuning that model
(or the base model, ``distill.restart_from_base``). A round directory holding ``COMPLETE`` is
not redone, so rerunning resumes at the first unfinished round (and SFT from its checkpoint).

Single process for now: under torchrun the commands stop with a clear error.
"""

from __future__ import annotations

import gc
import json
import logging
import shutil
import time
from dataclasses import replace
from pathlib import Path

from mmrft.build.components import (
    held_out_eval,
    make_data,
    make_family,
    make_reward,
    make_sampler,
)
from mmrft.build.stage import begin_stage, finish_stage, saved_summary
from mmrft.config import Config, ConfigError
from mmrft.data.jsonl import write_jsonl
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.trainer.distill import (
    NoCorrectTraces,
    sample_traces,
    select_traces,
    trace_stats,
    write_sft_dataset,
    write_stats,
)
from mmrft.trainer.pipeline import load_model

log = logging.getLogger(__name__)

ROUND_KEYS = (
    "accuracy_before",
    "accuracy_after",
    "greedy_accuracy_before",
    "greedy_accuracy_after",
)
"""What a round's row copies from the student's SFT summary."""


# --------------------------------------------------------------------------------------------
# The two commands
# --------------------------------------------------------------------------------------------


def run_distill(cfg: Config) -> dict:
    """Distil ``distill.name_or_path`` (null: the policy itself) into ``model.name_or_path``;
    returns the summary also written to ``out_dir/summary.json``. With no teacher and
    ``distill.rounds > 1`` this is ``run_rft``."""
    if cfg.distill.name_or_path is None and cfg.distill.rounds > 1:
        return run_rft(cfg)
    if cfg.distill.rounds > 1:
        raise ConfigError(
            "distill.rounds > 1 is expert iteration, where the policy is its own teacher: set "
            f"distill.name_or_path to null (it is {cfg.distill.name_or_path!r}) or rounds to 1"
        )
    out, t_start = Path(cfg.run.out_dir), time.time()
    if (saved := saved_summary(out)) is not None:
        return saved
    problems, eval_samples, eval_path = _start(cfg, out)
    prompts = problems.next_batch(cfg.distill.prompts)
    teacher = cfg.distill.name_or_path or cfg.model.name_or_path
    row = distill_round(cfg, teacher, cfg.model.name_or_path, prompts, eval_samples, out, eval_path)
    summary = {
        **{k: row[k] for k in ROUND_KEYS if k in row},
        "teacher": teacher,
        "student": cfg.model.name_or_path,
        **{k: v for k, v in row.items() if k.startswith("teacher_")},
        "data": row["data"],
        "stats": row["stats"],
        "eval_problems": len(eval_samples),
        "eval_samples_per_problem": cfg.eval.n_samples,
        "wall_seconds": round(time.time() - t_start, 1),
    }
    _append_metrics(out, row)
    return finish_stage(out, summary)


def run_rft(cfg: Config) -> dict:
    """Rejection-sampling fine-tuning / expert iteration: ``distill.rounds`` rounds of the
    policy sampling, keeping its correct traces and being fine-tuned on them. Returns the
    summary (``rounds``: one row per round) also written to ``out_dir/summary.json``."""
    if cfg.distill.name_or_path is not None:
        raise ConfigError(
            "rft: the policy is its own teacher, so distill.name_or_path must be null (it is "
            f"{cfg.distill.name_or_path!r}; use `mmrft distill` for a separate teacher)"
        )
    out, t_start = Path(cfg.run.out_dir), time.time()
    if (saved := saved_summary(out)) is not None:
        return saved
    problems, eval_samples, eval_path = _start(cfg, out)
    base, policy, rows = cfg.model.name_or_path, cfg.model.name_or_path, []
    for r in range(1, cfg.distill.rounds + 1):
        rdir = out / f"round-{r}"
        prompts = problems.next_batch(cfg.distill.prompts)  # drawn even when resuming
        row = saved_summary(rdir)
        if row is None:
            student = base if cfg.distill.restart_from_base else policy
            log.info("rft round %d/%d: %s samples -> %s", r, cfg.distill.rounds, policy, rdir)
            row = distill_round(cfg, policy, student, prompts, eval_samples, rdir, eval_path)
            row = {"round": r, **row}
            _append_metrics(out, row)
            finish_stage(rdir, row)
        rows.append(row)
        policy = str(rdir / "model")
    shutil.copytree(policy, out / "model", dirs_exist_ok=True)
    table = [
        {k: v for k, v in row.items() if k not in ("stats",)} | _headline(row["stats"])
        for row in rows
    ]
    summary = {
        "accuracy_before": rows[0].get("accuracy_before"),
        "accuracy_after": rows[-1].get("accuracy_after"),
        "greedy_accuracy_before": rows[0].get("greedy_accuracy_before"),
        "greedy_accuracy_after": rows[-1].get("greedy_accuracy_after"),
        "policy": base,
        "rounds": table,
        "eval_problems": len(eval_samples),
        "eval_samples_per_problem": cfg.eval.n_samples,
        "wall_seconds": round(time.time() - t_start, 1),
    }
    return finish_stage(out, {k: v for k, v in summary.items() if v is not None})


# --------------------------------------------------------------------------------------------
# One round
# --------------------------------------------------------------------------------------------


def distill_round(
    cfg: Config,
    teacher: str,
    student: str,
    prompts: list[Sample],
    eval_samples: list[Sample],
    rdir: Path,
    eval_path: Path | None = None,
) -> dict:
    """Teacher traces -> ``rdir/data/`` -> SFT of ``student`` in ``rdir/sft/`` -> ``rdir/model``.

    ``eval_path``: the held-out problems as a file, for the student's SFT run (its
    ``data.eval_path``), so the student is evaluated on ``eval_samples`` too. Returns the
    round's row: the student's held-out accuracy before/after (from the SFT
    summary), the teacher's held-out accuracy when ``distill.eval_teacher``, the data file and
    the trace statistics. Raises ``NoCorrectTraces`` when the teacher solved nothing.
    """
    data = rdir / "data" / "train.jsonl"
    row: dict = {"teacher": teacher, "student": student, "data": str(data)}
    stats_path = rdir / "data" / "stats.json"
    if stats_path.is_file() and data.is_file():  # sampled before an interruption
        saved = json.loads(stats_path.read_text())
        row["stats"] = saved["tasks"]
        row.update({k: v for k, v in saved.items() if k.startswith("teacher_")})
    else:
        row.update(sample_teacher(cfg, teacher, prompts, eval_samples, data))
    sft_out = rdir / "sft"
    sft_summary = train_student(cfg, student, data, sft_out, eval_path)
    row.update({k: sft_summary[k] for k in ROUND_KEYS if k in sft_summary})
    shutil.copytree(sft_out / "model", rdir / "model", dirs_exist_ok=True)
    return row


def sample_teacher(
    cfg: Config, teacher: str, prompts: list[Sample], eval_samples: list[Sample], data: Path
) -> dict:
    """The teacher's traces on ``prompts``, the kept ones written to ``data`` and their
    statistics to ``stats.json`` beside it; returns ``{"stats": ..., "teacher_*": ...}``."""
    d = cfg.distill
    max_new_tokens = d.max_new_tokens or cfg.rollout.max_new_tokens
    model, processor = load_model(cfg, teacher, trainable=False)
    family = make_family(cfg, model.config.model_type, processor)
    sampler = make_sampler(cfg.rollout, model.eval(), family)
    reward_fn = make_reward(cfg)
    sampled = sample_traces(
        sampler,
        prompts,
        d.k,
        reward_fn,
        temperature=d.temperature,
        max_new_tokens=max_new_tokens,
        seed=cfg.run.seed,
        prompts_per_call=d.prompts_per_call,
    )
    kept = select_traces(sampled, d.keep, d.max_per_prompt)
    stats = trace_stats(sampled, kept)
    info: dict = {}
    if d.eval_teacher and d.name_or_path is not None:  # rft: the previous round measured it
        res = held_out_eval(cfg, sampler, eval_samples, reward_fn)
        info = {"teacher_accuracy": res.accuracy, "teacher_greedy_accuracy": res.greedy_accuracy}
    del sampler, model
    gc.collect()
    header = {"teacher": teacher, "k": d.k, "keep": d.keep, "max_per_prompt": d.max_per_prompt,
              "temperature": d.temperature, "max_new_tokens": max_new_tokens, **info}  # fmt: skip
    try:
        write_sft_dataset(data, kept)
    except NoCorrectTraces:
        write_stats(data.parent / "stats.json.failed", stats, **header)
        every = stats.get("all", {})
        raise NoCorrectTraces(
            f"teacher {teacher!r} produced no correct trace: 0 of {every.get('traces', 0)} "
            f"traces ({every.get('prompts', 0)} problems x distill.k={d.k}) earned full "
            f"accuracy from reward {cfg.rl.reward!r}, so no dataset was written (statistics in "
            f"{data.parent / 'stats.json.failed'}). Check that the teacher was trained on this "
            "task and answers in the reward's format; raise distill.k, distill.max_new_tokens "
            "or distill.temperature"
        ) from None
    write_stats(data.parent / "stats.json", stats, **header)
    log.info(
        "teacher %s: kept %d of %d traces (pass@1 %.3f) -> %s",
        teacher,
        stats["all"]["kept"],
        stats["all"]["traces"],
        stats["all"]["pass@1"],
        data,
    )
    return {"stats": stats, **info}


def train_student(
    cfg: Config, student: str, data: Path, sft_out: Path, eval_path: Path | None = None
) -> dict:
    """SFT of ``student`` on the traces at ``data`` by ``mmrft sft``'s stage function, in
    ``sft_out``, evaluated on ``eval_path`` (else on ``cfg.data``'s own held-out problems);
    returns its summary (held-out accuracy before/after)."""
    from mmrft.build.sft import run_sft

    eval_file = cfg.data.eval_path or (None if eval_path is None else str(eval_path))
    sft_cfg = replace(
        cfg,
        run=replace(cfg.run, out_dir=str(sft_out)),
        model=replace(cfg.model, name_or_path=student),
        data=replace(cfg.data, train_path=str(data), eval_path=eval_file),
    )
    return run_sft(sft_cfg)


# --------------------------------------------------------------------------------------------
# Run-directory plumbing
# --------------------------------------------------------------------------------------------


def _single_process(cfg: Config, world_size: int) -> None:
    if world_size > 1:
        raise ConfigError(
            f"mmrft distill/rft run in one process for now, got {world_size} torchrun ranks; "
            "launch it without torchrun (the student's SFT alone can use `mmrft sft` under "
            "torchrun)"
        )


def _start(cfg: Config, out: Path) -> tuple[ProblemStream, list[Sample], Path | None]:
    """Checks and ``config.yaml``; the training problems' stream, the held-out problems, and
    those written to ``out/eval_problems/eval.jsonl`` (for the student's SFT runs; None when
    ``data.eval_path`` already names a file or there are none)."""
    # the student's box convention and image size: the problems are posed for it
    _, _, family, _ = begin_stage(cfg, _single_process)
    no_prefetch = replace(cfg, data=replace(cfg.data, prefetch=False))
    problems, _, eval_samples, _ = make_data(no_prefetch, family)
    eval_path = None
    if cfg.data.eval_path is None and eval_samples:
        eval_path = write_jsonl(eval_samples, out / "eval_problems" / "eval.jsonl")
    return problems, eval_samples, eval_path


def _headline(stats: dict) -> dict:
    every = stats.get("all", {})
    keys = ("kept", "kept_fraction", "pass@1", "mean_tokens")
    out = {f"data_{k}": every[k] for k in keys if k in every}
    k_max = max((int(k[5:]) for k in every if k.startswith("pass@")), default=None)
    if k_max is not None:
        out[f"data_pass@{k_max}"] = every[f"pass@{k_max}"]
    return out


def _append_metrics(out: Path, row: dict) -> None:
    with (out / "metrics.jsonl").open("a") as f:
        f.write(
            json.dumps({k: v for k, v in row.items() if k != "stats"} | _headline(row["stats"]))
            + "\n"
        )
