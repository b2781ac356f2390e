"""A whole run from one Config: data -> SFT cold start -> GRPO -> evaluation -> summary + report.

``mmrft train`` and ``mmrft demo`` both call ``run``. Stages are resumable: SFT writes a complete
model to ``out_dir/sft`` (skipped on rerun once it exists) and RL resumes from its last checkpoint.
The RL stage loads the SFT policy back through ``load_policy`` — the same ``from_pretrained`` path
a hub checkpoint takes.
"""

from __future__ import annotations

import json
import logging
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from mmrft.build import make_data, make_family, make_reward
from mmrft.config import Config, save_config
from mmrft.data.sample import Sample
from mmrft.data.screen import SkipLog, encode_screen, fit_pixel_budget
from mmrft.data.stream import ProblemStream
from mmrft.dataclass_yaml import check
from mmrft.eval.harness import EvalResult
from mmrft.models import load_policy, save_policy
from mmrft.models.families import ModelFamily
from mmrft.models.loading import DTYPES, load_family
from mmrft.models.lora import save_merged
from mmrft.models.setup import is_lora, prepare_policy, resolve_device
from mmrft.trainer.distributed import (
    barrier,
    init_distributed,
    is_main,
    is_sharded,
    rank_device,
    shard_model,
)
from mmrft.trainer.objective import needs_critic
from mmrft.trainer.precision import master_dtype
from mmrft.trainer.rl import train_rl
from mmrft.trainer.sft import train_sft

log = logging.getLogger(__name__)

N_EXAMPLES = 24
BEFORE_FILE = "examples/before.json"  # step-0 greedy completions of the example problems


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_world(cfg: Config, world_size: int) -> None:
    """Batch-layout checks that need the world size: every rank must get the same share of
    whole groups, and a micro-batch cannot exceed what it divides. Raises ``ConfigError``
    naming the key before any work starts."""
    rl_rows = cfg.rollout.prompts_per_step * cfg.rollout.group_size
    per_rank = rl_rows // world_size // cfg.algorithm.mini_batches
    micro = cfg.rl.micro_batch_size
    check(
        micro is None or micro <= per_rank,
        "rl.micro_batch_size",
        f"is {micro}, larger than the {per_rank} sequences of a mini-batch on each rank "
        "(rollout.prompts_per_step x rollout.group_size / algorithm.mini_batches / ranks)",
    )
    sft_micro, sft_per_rank = cfg.sft.micro_batch_size, cfg.sft.batch_size // world_size
    check(
        sft_micro is None or sft_micro <= sft_per_rank,
        "sft.micro_batch_size",
        f"is {sft_micro}, larger than the {sft_per_rank} samples of a step on each rank",
    )
    if world_size == 1:
        return
    ranks = f"the {world_size} ranks of this torchrun"
    check(
        cfg.rollout.prompts_per_step % world_size == 0,
        "rollout.prompts_per_step",
        f"is {cfg.rollout.prompts_per_step}: it must divide evenly among {ranks}",
    )
    check(
        cfg.sft.steps == 0 or cfg.sft.batch_size % world_size == 0,
        "sft.batch_size",
        f"is {cfg.sft.batch_size}: it must divide evenly among {ranks}",
    )
    unsupported = {  # not yet under torchrun (docs/scale.md); each needs rank-aware work
        "rollout.dynamic_sampling": cfg.rollout.dynamic_sampling,
        "rollout.engine": cfg.rollout.engine != "hf",
        "algorithm.adv_estimator": needs_critic(cfg.algorithm),
    }
    for key, used in unsupported.items():
        check(not used, key, f"is not supported under torchrun yet (docs/scale.md); got {ranks}")
    if cfg.distributed.strategy == "fsdp2":
        check(
            cfg.model.quantization is None,
            "model.quantization",
            "needs distributed.strategy=ddp under torchrun: FSDP2 cannot shard bitsandbytes' "
            "quantized weights",
        )


def run(cfg: Config) -> dict:
    """Run every stage of ``cfg``; returns the summary dict also written to summary.json.

    Under torchrun every rank runs this; the policy (and reference) are sharded with FSDP2 or
    replicated (``distributed.strategy``), each rank trains on its share of the prompts, and
    only rank 0 writes the run's files.
    """
    t_start = time.time()
    world = init_distributed(cfg.model.device)
    check_world(cfg, world.size)
    out = Path(cfg.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if world.is_main:
        save_config(cfg, out / "config.yaml")
    seed_everything(cfg.run.seed)
    family = load_family(
        cfg.model.name_or_path,
        seed=cfg.run.seed,
        min_pixels=cfg.model.min_pixels,
        max_pixels=cfg.model.max_pixels,
    )  # the box convention and resized image size, before any weights are loaded
    sft_stream, rl_stream, eval_samples, skipped = make_data(cfg, family)
    skip_dir = out if world.is_main else out / "ranks" / f"rank{world.rank}"  # same data per rank
    skip_log = prepare_dataset(cfg, skip_dir, family, (sft_stream, rl_stream), skipped)
    reward_fn = make_reward(cfg)

    # --- cold start --------------------------------------------------------------------
    sft_dir = out / "sft"
    if cfg.sft.steps > 0 and not (sft_dir / "COMPLETE").exists():
        model, processor = _load(cfg, cfg.model.name_or_path)
        family = make_family(cfg, model.config.model_type, processor)
        model = _shard(cfg, prepare_policy(model, cfg.model), family)
        name_lora_base(model, cfg.model.name_or_path)
        sft_stream.screen = encode_screen(family)
        sft_losses = train_sft(
            model,
            family,
            sft_stream,
            steps=cfg.sft.steps,
            batch_size=cfg.sft.batch_size,
            lr=cfg.sft.lr,
            warmup_steps=cfg.sft.warmup_steps,
            weight_decay=cfg.sft.weight_decay,
            stop_accuracy=cfg.sft.stop_accuracy,
            micro_batch_size=cfg.sft.micro_batch_size,
            compute_dtype=cfg.model.dtype,
            out_dir=sft_dir,  # a SIGTERM/SIGINT checkpoint, resumed from on rerun
            processor=processor,
        )
        # RL starts from a plain model either way: LoRA adapters are merged into the export.
        export_policy(model, processor, sft_dir, lambda: _policy(cfg, cfg.model.name_or_path))
        if world.is_main:
            shutil.rmtree(sft_dir / "checkpoints", ignore_errors=True)
            (sft_dir / "sft_metrics.jsonl").write_text(
                "".join(json.dumps(r) + "\n" for r in sft_losses)
            )
            (sft_dir / "COMPLETE").write_text("")
        barrier()
        del model
    init_path = str(sft_dir) if cfg.sft.steps > 0 else cfg.model.name_or_path

    # --- RL ------------------------------------------------------------------------------
    seed_everything(cfg.run.seed)
    model, processor = _load(cfg, init_path)
    family = make_family(cfg, model.config.model_type, processor)
    model = _shard(cfg, prepare_policy(model, cfg.model), family)
    name_lora_base(model, init_path)
    rl_stream.screen = encode_screen(family)
    ref_model = None
    if cfg.algorithm.kl_coef > 0 or cfg.rl.track_kl:  # beta = 0 skips it unless KL is tracked
        if is_lora(model):  # the frozen base under the adapters is the reference
            ref_model = model
        else:
            ref_model, _ = _load(cfg, init_path, trainable=False)
            ref_model = _shard(cfg, ref_model.eval().requires_grad_(False), family)

    greedy: dict[int, EvalResult] = {}
    result = train_rl(
        cfg,
        model,
        processor,
        family,
        stream=rl_stream,
        reward_fn=reward_fn,
        eval_samples=eval_samples,
        ref_model=ref_model,
        on_eval=lambda step, res: _keep_eval(out, greedy, step, res),
    )
    if is_lora(model):  # checkpoints hold adapters only; export a plain model too
        export_policy(model, processor, out / "merged", lambda: _policy(cfg, init_path))
    if not world.is_main:
        return {}
    summary = summarize(cfg, result.evals, time.time() - t_start)
    summary["train_lines_skipped"] = len(skipped)
    summary["train_samples_skipped"] = skip_log.count("id")  # loaded, but cannot be encoded
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    before = greedy.get(0) or _saved_before(out)  # a resumed run: saved at step 0
    if before is not None and greedy and max(greedy) > 0:
        write_examples(out, eval_samples[:N_EXAMPLES], before, greedy[max(greedy)])
    from mmrft.report.html import write_report

    write_report(out)
    return summary


def _shard(cfg: Config, model: torch.nn.Module, family: ModelFamily) -> torch.nn.Module:
    """Under torchrun: ``distributed.strategy`` over the ranks (a no-op in one process)."""
    return shard_model(
        model,
        cfg.distributed.strategy,
        reshard_after_forward=cfg.distributed.reshard_after_forward,
        compute_dtype=DTYPES[cfg.model.dtype] if cfg.model.quantization is None else None,
        units=family.vision_tower,  # share_vision calls it directly
    )


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


def _keep_eval(out: Path, greedy: dict[int, EvalResult], step: int, res: EvalResult) -> None:
    """Hold each evaluation for the examples; the step-0 completions also go to disk, so a run
    resumed after a stop still shows them (``_saved_before``)."""
    greedy[step] = res
    if step == 0:
        before = {"greedy_texts": res.greedy_texts[:N_EXAMPLES]}
        before["greedy_correct"] = res.greedy_correct[:N_EXAMPLES]
        (out / "examples").mkdir(exist_ok=True)
        (out / BEFORE_FILE).write_text(json.dumps(before))


def _saved_before(out: Path) -> SimpleNamespace | None:
    try:
        return SimpleNamespace(**json.loads((out / BEFORE_FILE).read_text()))
    except (OSError, json.JSONDecodeError, TypeError):
        return None


def _policy(cfg: Config, name_or_path: str) -> torch.nn.Module:
    """An unsharded policy as the run builds it (adapters fresh), on the CPU."""
    return prepare_policy(_load(cfg, name_or_path)[0].cpu(), cfg.model)


def _load(cfg: Config, name_or_path: str, *, trainable: bool = True):
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


def summarize(cfg: Config, evals: list[dict], wall_seconds: float) -> dict:
    """Before = the evaluation at RL step 0; after = mean of the last ``rl.eval_last_k`` ones."""
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
    return summary


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
