"""The stages of a whole run and what they leave on disk: loading the policy, sharding it,
exporting it, the dataset screen, the summary, the examples and the report.

``mmrft.build.run`` strings them together (data -> SFT cold start -> GRPO -> evaluation);
``mmrft train`` and ``mmrft demo`` call it. Stages are resumable: SFT writes a complete
model to ``out_dir/sft`` (skipped on rerun once it exists) and RL resumes from its last checkpoint.
The RL stage loads the SFT policy back through ``load_policy`` — the same ``from_pretrained`` path
a hub checkpoint takes.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from mmrft.config import Config
from mmrft.data.sample import Sample
from mmrft.data.screen import SkipLog, fit_pixel_budget
from mmrft.data.stream import ProblemStream
from mmrft.dataclass_yaml import check
from mmrft.eval.harness import EvalResult
from mmrft.models import load_policy, save_policy
from mmrft.models.families import ModelFamily
from mmrft.models.loading import DTYPES
from mmrft.models.lora import save_merged
from mmrft.models.setup import is_lora, prepare_policy, resolve_device
from mmrft.trainer.distributed import (
    barrier,
    is_main,
    is_sharded,
    rank_device,
    shard_model,
)
from mmrft.trainer.precision import master_dtype

log = logging.getLogger(__name__)

N_EXAMPLES = 24
BEFORE_FILE = "examples/before.json"  # step-0 greedy completions of the example problems


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def shard_options(cfg: Config, family: ModelFamily) -> dict:
    """The run's keyword arguments for ``shard_model`` and ``shard_critic``: the strategy, FSDP2's
    compute dtype (``model.dtype``; none for quantized weights, which keep their own), whether
    weights are resharded after the forward, and the family's vision tower as a unit."""
    return {
        "strategy": cfg.distributed.strategy,
        "reshard_after_forward": cfg.distributed.reshard_after_forward,
        "compute_dtype": DTYPES[cfg.model.dtype] if cfg.model.quantization is None else None,
        "units": family.vision_tower,  # share_vision calls it directly
    }


def shard(cfg: Config, model: torch.nn.Module, family: ModelFamily) -> torch.nn.Module:
    """Under torchrun: ``distributed.strategy`` over the ranks (a no-op in one process)."""
    return shard_model(model, **shard_options(cfg, family))


def export_policy(
    model: torch.nn.Module,
    processor: object,
    path: Path,
    rebuild: Callable[[], torch.nn.Module] | None = None,
) -> None:
    """A plain ``from_pretrained`` model at ``path`` (LoRA merged); under torchrun the sharded
    weights are gathered to rank 0, which writes them. Call on every rank.

    A sharded LoRA policy cannot merge in place, so rank 0 ``rebuild``s an unsharded copy of
    it (base from disk + fresh adapters), loads the gathered weights and merges that.
    """
    if is_sharded(model):
        full = get_model_state_dict(
            model, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )
        if is_main() and is_lora(model):
            copy = rebuild()
            copy.load_state_dict(full)
            save_merged(copy, processor, path)
        elif is_main():
            model.save_pretrained(path, state_dict=full)
            processor.save_pretrained(path)
    elif is_main():
        (save_merged if is_lora(model) else save_policy)(model, processor, path)
    barrier()


def prepare_dataset(
    cfg: Config,
    out: Path,
    family: ModelFamily,
    streams: tuple[ProblemStream, ...],
    skipped: list[tuple[int, str]],
) -> SkipLog:
    """``out/skipped.jsonl`` with the lines loading skipped; for dataset streams, images kept
    at the model's pixel budget and samples found unencodable recorded as found
    (``mmrft.data.screen``). An all-bad dataset is an error naming the file."""
    skip_log = SkipLog(out / "skipped.jsonl")
    for number, reason in skipped:
        skip_log.add({"line": number, "reason": reason})
    data = [s for s in streams if s.size is not None]
    if not data:
        return skip_log
    for stream in data:
        stream.name = str(cfg.data.train_path)
        stream.on_skip = lambda sample, reason: _record_skip(skip_log, sample, reason)
    if data[0].size == 0:
        raise ValueError(
            f"{cfg.data.train_path}: no usable samples: all {len(skipped)} lines were skipped "
            f"(reasons in {skip_log.path}" + (f"; first: {skipped[0][1]})" if skipped else ")")
        )
    shrunk = fit_pixel_budget(data[0].samples, family.resized_image_size, cfg.model.max_pixels)
    if shrunk:
        log.info("%s: %d images shrunk to the model's pixel budget", cfg.data.train_path, shrunk)
    return skip_log


def _record_skip(skip_log: SkipLog, sample: Sample, reason: str) -> None:
    if skip_log.add({"id": sample.id, "reason": reason}):
        log.warning(
            "skipped training sample %r (recorded in %s): %s", sample.id, skip_log.path, reason
        )


def name_lora_base(model: torch.nn.Module, base: str) -> None:
    """Record ``base`` in a LoRA policy's adapter config, so that a mid-run checkpoint (adapters
    only) loads as base + adapters (``load_policy``); a local base by its absolute path."""
    if is_lora(model):
        local = Path(base)
        for config in model.peft_config.values():
            config.base_model_name_or_path = str(local.resolve()) if local.exists() else base


def keep_eval(out: Path, greedy: dict[int, EvalResult], step: int, res: EvalResult) -> None:
    """Hold each evaluation for the examples; the step-0 completions also go to disk, so a run
    resumed after a stop still shows them (``_saved_before``)."""
    greedy[step] = res
    if step == 0:
        before = {"greedy_texts": res.greedy_texts[:N_EXAMPLES]}
        before["greedy_correct"] = res.greedy_correct[:N_EXAMPLES]
        (out / "examples").mkdir(exist_ok=True)
        (out / BEFORE_FILE).write_text(json.dumps(before))


def saved_before(out: Path) -> SimpleNamespace | None:
    try:
        return SimpleNamespace(**json.loads((out / BEFORE_FILE).read_text()))
    except (OSError, json.JSONDecodeError, TypeError):
        return None


def rebuild_policy(cfg: Config, name_or_path: str) -> torch.nn.Module:
    """An unsharded policy as the run builds it (adapters fresh), on the CPU."""
    return prepare_policy(load_model(cfg, name_or_path)[0].cpu(), cfg.model)


def load_model(cfg: Config, name_or_path: str, *, trainable: bool = True):
    """A policy (float32 master weights under mixed precision, ``precision.py``) or, with
    ``trainable=False``, a frozen copy in the compute dtype ``model.dtype``."""
    model, processor = load_policy(
        name_or_path,
        dtype=master_dtype(cfg.model.dtype, cfg.model.quantization)
        if trainable
        else cfg.model.dtype,
        attn_implementation=cfg.model.attn_implementation,
        seed=cfg.run.seed,
        min_pixels=cfg.model.min_pixels,
        max_pixels=cfg.model.max_pixels,
        quantization=cfg.model.quantization,
    )
    return model.to(resolve_device(rank_device(cfg.model.device))), processor


def largest_drop(evals: list[dict], after_step: int, key: str = "accuracy") -> float:
    """How far the worst evaluation after ``after_step`` fell below the best one before it
    (0 when none fell): the issue's measure of a run that loses what it learned.

    >>> rows = [{"step": 0, "accuracy": 0.3}, {"step": 100, "accuracy": 0.5},
    ...         {"step": 150, "accuracy": 0.42}, {"step": 200, "accuracy": 0.6}]
    >>> round(largest_drop(rows, after_step=100), 3)
    0.08
    """
    drop, best = 0.0, -math.inf
    for e in sorted(evals, key=lambda e: e["step"]):
        if e["step"] > after_step:
            drop = max(drop, best - e[key])
        best = max(best, e[key])
    return drop


def summarize(cfg: Config, evals: list[dict], wall_seconds: float) -> dict:
    """Before = the evaluation at RL step 0; after = mean of the last ``rl.eval_last_k`` ones;
    the largest drop (``largest_drop``) after the first fifth of the RL steps (step 100 of 500)."""
    before = next((e for e in evals if e["step"] == 0), None)
    later = [e for e in evals if e["step"] > 0][-cfg.rl.eval_last_k :]
    summary: dict = {
        "wall_seconds": round(wall_seconds, 1),
        "eval_problems": cfg.data.eval_size,
        "eval_samples_per_problem": cfg.eval.n_samples,
        "rl_steps": cfg.rl.steps,
        "after_averaged_over_steps": [e["step"] for e in later],
    }
    for key in ("accuracy", "greedy_accuracy", "reward"):
        if before is not None:
            summary[f"{key}_before"] = before[key]
        if later:
            summary[f"{key}_after"] = sum(e[key] for e in later) / len(later)
            summary[f"{key}_final"] = later[-1][key]
    if evals:
        summary["largest_drop_after_step"] = cfg.rl.steps // 5
        for key in ("accuracy", "greedy_accuracy"):
            summary[f"largest_drop_{key}"] = largest_drop(evals, cfg.rl.steps // 5, key)
    return summary


class OODCheck:
    """``eval.ood_level``: the run's task at a difficulty level it never trains on, evaluated
    (``eval.ood_size`` problems from ``data.eval_seed``) on the cold start before RL and on the
    final policy after it. A second, independent look at generalisation; off when null."""

    def __init__(self, cfg: Config, task: object) -> None:
        self.level = cfg.eval.ood_level
        self.problems: list[Sample] = []
        self.results: list[dict] = []  # EvalResult.metrics() of before, after
        self.seconds = 0.0
        if self.level is None:
            return
        check(
            not cfg.data.train_path and not cfg.data.mixture,
            "eval.ood_level",
            "needs problems generated by data.task (not data.train_path or data.mixture)",
        )
        self.problems = task.dataset(cfg.eval.ood_size, cfg.data.eval_seed, self.level)

    def evaluate(self, run_eval: Callable[[list[Sample]], EvalResult]) -> None:
        """Evaluate the current policy on the problems (first call: before, second: after)."""
        if not self.problems:
            return
        t0 = time.perf_counter()
        self.results.append(run_eval(self.problems).metrics())
        self.seconds += time.perf_counter() - t0

    def summary(self) -> dict:
        """``ood_*`` keys of summary.json (empty when off)."""
        if not self.results:
            return {}
        out = {
            "ood_level": self.level,
            "ood_problems": len(self.problems),
            "ood_eval_seconds": round(self.seconds, 1),
        }
        for key in ("accuracy", "greedy_accuracy"):
            for moment, res in zip(("before", "after"), self.results, strict=False):
                out[f"ood_{key}_{moment}"] = res[key]
        return out


def write_examples(out: Path, samples: list[Sample], before: EvalResult, after: EvalResult) -> None:
    """Greedy completions before/after RL on the first eval problems, for the report."""
    img_dir = out / "examples"
    img_dir.mkdir(exist_ok=True)
    with (out / "examples.jsonl").open("w") as f:
        for i, s in enumerate(samples):
            rel = f"examples/{i:03d}.png"
            if s.images:
                s.images[0].save(out / rel)
            f.write(
                json.dumps(
                    {
                        "image": rel if s.images else None,
                        "prompt": s.prompt,
                        "answer": s.answer,
                        "completion_before": before.greedy_texts[i],
                        "completion_after": after.greedy_texts[i],
                        "reward_before": before.greedy_correct[i],
                        "reward_after": after.greedy_correct[i],
                    }
                )
                + "\n"
            )
