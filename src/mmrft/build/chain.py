"""Stage chaining: one config runs several stage commands in order (``run.stages``).

Design note: a chain adds no training code. Each stage is the very function its own command
calls (``mmrft sft``, ``mmrft distill``, ``mmrft dpo``, ...), given a copy of the config with
two keys changed:

* ``run.out_dir`` = ``<out_dir>/<i>-<stage>``, so every stage has its own run directory
  (checkpoints, metrics, summary, report) exactly as if run alone;
* ``model.name_or_path`` = the ``model/`` folder the stage before it exported (the first stage
  starts from the config's own model). A stage that exports nothing (``eval``) passes its input
  on.

A stage directory holding ``COMPLETE`` is not run again, so rerunning the command resumes the
chain at its first unfinished stage, and that stage resumes from its own last checkpoint.
``<out_dir>/stages.json`` lists every stage's held-out accuracy before and after, and
``<out_dir>/report.html`` shows it as a table and a plot with links to each stage's report.

Two stages exist only here: ``grpo`` is ``mmrft train`` without its SFT cold start (in a chain
the ``sft`` stage is the cold start, so ``sft.steps`` is set to 0 for it), and ``eval`` scores
the current model on the held-out problems.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mmrft.build.components import (
    held_out_eval,
    make_data,
    make_family,
    make_reward,
    make_sampler,
)
from mmrft.build.distill import run_distill, run_rft
from mmrft.build.dpo import run_dpo
from mmrft.build.sft import run_sft
from mmrft.build.stage import begin_stage, finish_stage, saved_summary
from mmrft.build.train import run
from mmrft.config import Config, ConfigError, save_config
from mmrft.registry import Registry
from mmrft.report.html import write_report
from mmrft.report.stages import write_stages_report
from mmrft.trainer.distributed import is_main
from mmrft.trainer.pipeline import load_model

log = logging.getLogger(__name__)

Stage = Callable[[Config], dict]
STAGES: Registry[Stage] = Registry("stage")
"""Stage name -> ``run_<stage>(cfg) -> summary``: what ``run.stages`` may list."""
STAGES.register("sft")(run_sft)
STAGES.register("distill")(run_distill)
STAGES.register("rft")(run_rft)
STAGES.register("dpo")(run_dpo)

SUMMARY_KEYS = (
    "accuracy_before",
    "accuracy_after",
    "greedy_accuracy_before",
    "greedy_accuracy_after",
    "wall_seconds",
)
"""What ``stages.json`` keeps of each stage's summary (the rest stays in the stage's dir)."""


@STAGES.register("grpo")
def run_grpo(cfg: Config) -> dict:
    """GRPO (``mmrft train``) from ``model.name_or_path`` with no SFT cold start of its own."""
    out = Path(cfg.run.out_dir)
    if (saved := saved_summary(out)) is not None:
        return saved
    summary = run(replace(cfg, sft=replace(cfg.sft, steps=0)))
    return finish_stage(out, summary)


@STAGES.register("eval")
def run_eval(cfg: Config) -> dict:
    """Held-out sampled and greedy accuracy of ``model.name_or_path`` (``eval.*`` settings)."""
    out = Path(cfg.run.out_dir)
    if (saved := saved_summary(out)) is not None:
        return saved
    _, out, family, t_start = begin_stage(cfg)
    eval_samples = make_data(replace(cfg, data=replace(cfg.data, prefetch=False)), family)[2]
    model, processor = load_model(cfg, cfg.model.name_or_path, trainable=False)
    family = make_family(cfg, model.config.model_type, processor)
    sampler = make_sampler(cfg.rollout, model.eval(), family)
    result = held_out_eval(cfg, sampler, eval_samples, make_reward(cfg))
    summary = {f"{k}_after": v for k, v in result.metrics().items() if k != "n_problems"}
    summary.update(
        eval_problems=result.n_problems,
        eval_samples_per_problem=cfg.eval.n_samples,
        wall_seconds=round(time.time() - t_start, 1),
    )
    finish_stage(out, summary)
    if is_main():
        write_report(out)  # the summary as a page, like every other stage's
    return summary


def check_stages(names: list[str]) -> None:
    """``run.stages`` names only registered stages (a ``ConfigError`` naming the key)."""
    for name in names:
        if name not in STAGES:
            raise ConfigError(f"run.stages: unknown stage {name!r}; known: {sorted(STAGES)}")


def stage_dir(root: Path, index: int, name: str) -> Path:
    """``<root>/<index>-<name>``, stages counted from 1."""
    return root / f"{index}-{name}"


def run_stages(cfg: Config) -> dict:
    """Run ``cfg.run.stages`` in order, each from the model the previous one exported.

    Returns (on rank 0; ``{}`` on the others) ``{"stages": [one row per stage]}``, also written
    to ``<out_dir>/stages.json``, and writes ``<out_dir>/report.html``.
    """
    check_stages(cfg.run.stages)
    root = Path(cfg.run.out_dir)
    root.mkdir(parents=True, exist_ok=True)
    save_config(cfg, root / "config.yaml")
    model_path, rows = cfg.model.name_or_path, []
    for index, name in enumerate(cfg.run.stages, 1):
        out = stage_dir(root, index, name)
        log.info("stage %d/%d: %s from %s -> %s", index, len(cfg.run.stages), name, model_path, out)
        stage_cfg = replace(
            cfg,
            run=replace(cfg.run, out_dir=str(out), stages=[]),
            model=replace(cfg.model, name_or_path=model_path),
        )
        summary = STAGES.get(name)(stage_cfg)
        rows.append(
            {"stage": name, "dir": out.name, "model_in": model_path}
            | {k: summary[k] for k in SUMMARY_KEYS if k in summary}
        )
        if (out / "model").is_dir():  # the next stage starts from what this one exported
            model_path = str(out / "model")
    if not is_main():
        return {}
    result = {"stages": rows, "final_model": model_path}
    (root / "stages.json").write_text(json.dumps(result, indent=2))
    write_stages_report(root, rows)
    return result
