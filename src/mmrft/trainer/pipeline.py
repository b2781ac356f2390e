"""A whole run from one Config: data -> SFT cold start -> GRPO -> evaluation -> summary + report.

``mmrft train`` and ``mmrft demo`` both call ``run``. Stages are resumable: SFT writes a complete
model to ``out_dir/sft`` (skipped on rerun once it exists) and RL resumes from its last checkpoint.
The RL stage loads the SFT policy back through ``load_policy`` — the same ``from_pretrained`` path
a hub checkpoint takes.
"""

from __future__ import annotations

import inspect
import json
import logging
import random
import time
from pathlib import Path

import numpy as np
import torch

from mmrft.config import Config, save_config
from mmrft.data.load import load_dataset_file
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.eval.harness import EvalResult
from mmrft.models import family_for, load_policy, save_policy
from mmrft.models.families import ModelFamily
from mmrft.models.loading import load_family
from mmrft.models.lora import save_merged
from mmrft.models.setup import is_lora, prepare_policy, resolve_device
from mmrft.rewards.base import RewardFn
from mmrft.rewards.build import build_reward
from mmrft.rewards.compose import SampleRouter
from mmrft.tasks import TASKS
from mmrft.tasks.curriculum import AdaptiveLevel, LevelSchedule, TaskMixture
from mmrft.trainer.rl import train_rl
from mmrft.trainer.sft import train_sft

log = logging.getLogger(__name__)

# Base seeds of the training streams (see mmrft.tasks.base.sample_seeds): SFT and RL problems
# come from different ranges, and both are far below data.eval_seed.
SFT_BASE, RL_BASE = 1, 2
N_EXAMPLES = 24


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_task(cfg: Config, family: ModelFamily | None = None):
    """The configured task, or a ``TaskMixture`` when ``data.mixture`` is set.

    With the policy's ``family``, box tasks (ground, detect) prompt and score in that family's
    box convention unless ``data.task_kwargs`` names one.
    """
    if cfg.data.mixture:  # each task with its defaults, plus its own task_kwargs entry
        per_task = {name: dict(cfg.data.task_kwargs.get(name, {})) for name in cfg.data.mixture}
        for name, kw in per_task.items():
            kw.update(_box_defaults(TASKS.get(name), family, kw, None))
        return TaskMixture(cfg.data.mixture, {n: kw for n, kw in per_task.items() if kw})
    cls = TASKS.get(cfg.data.task)
    # data.image_size goes to tasks that draw images (not, e.g., the audio task 'beeps')
    takes = inspect.signature(cls.__init__).parameters
    kwargs = {"image_size": cfg.data.image_size} if "image_size" in takes else {}
    if cfg.data.count_range is not None:
        kwargs["count_range"] = tuple(cfg.data.count_range)
    kwargs.update(_box_defaults(cls, family, cfg.data.task_kwargs, cfg.data.image_size))
    try:
        return cls(**kwargs, **cfg.data.task_kwargs)
    except TypeError as e:  # a misspelt argument: name the config key, not the constructor
        raise ValueError(f"data.task_kwargs for task {cfg.data.task!r}: {e}") from None


def _box_defaults(cls, family, task_kwargs: dict, image_size: int | None) -> dict:
    """The family's box convention for a task that takes ``box_format``, unless already set."""
    params = inspect.signature(cls.__init__).parameters
    if family is None or "box_format" not in params or "box_format" in task_kwargs:
        return {}
    size = image_size or params["image_size"].default
    return family.task_box_kwargs(size)


def make_reward(cfg: Config) -> RewardFn:
    """``rl.reward``; the special name "task" scores each sample with the reward its dataset
    row names (``meta["reward"]``), else with its own task's reward (mixtures, datasets)."""
    if cfg.rl.reward == "task":
        return SampleRouter(sample_reward_name)
    return build_reward(cfg.rl.reward)  # a name, module:function, file.py:function or spec


def sample_reward_name(sample: Sample) -> str:
    if "reward" in sample.meta:
        return sample.meta["reward"]
    if sample.task in TASKS:
        return TASKS.get(sample.task).reward_name
    raise KeyError(
        f"sample {sample.id!r}: rl.reward is 'task' but the sample names no reward (a 'reward' "
        f"field) and its task {sample.task!r} is not a registered task"
    )


def level_policy(cfg: Config, task) -> LevelSchedule | AdaptiveLevel | None:
    """The RL stream's difficulty curriculum, if one is configured."""
    if cfg.data.level_schedule:
        return LevelSchedule(cfg.data.level_schedule)
    if cfg.data.adaptive_level:
        return AdaptiveLevel(
            task.levels,
            window=cfg.data.adaptive_window,
            promote_at=cfg.data.adaptive_promote_at,
            demote_at=cfg.data.adaptive_demote_at,
        )
    return None


def make_data(
    cfg: Config, family: ModelFamily | None = None
) -> tuple[ProblemStream, ProblemStream, list[Sample], list[tuple[int, str]]]:
    """(SFT stream, RL stream, held-out eval problems, skipped training lines)."""
    task = make_task(cfg, family)
    # Eval problems use sample_seeds(eval_seed); training bases are seed*10 + 1|2, so the two
    # never meet while run.seed < eval_seed / 10.
    eval_samples = task.dataset(cfg.data.eval_size, cfg.data.eval_seed, cfg.data.level)
    if cfg.data.train_path:
        loaded = load_dataset_file(cfg.data.train_path)  # JSONL, Parquet or a datasets dir
        if loaded.skipped:
            log.warning(
                "%s: skipped %d bad lines (first: %s)",
                cfg.data.train_path,
                len(loaded.skipped),
                loaded.skipped[0],
            )
        rl_stream = ProblemStream.from_samples(loaded.samples, cfg.run.seed + 1)
        rl_stream.drop_after = cfg.data.drop_saturated_after
        return (
            ProblemStream.from_samples(loaded.samples, cfg.run.seed),
            rl_stream,
            eval_samples,
            loaded.skipped,
        )  # a fixed dataset: nothing to prefetch, no levels
    base = cfg.run.seed * 10
    rl_stream = ProblemStream.from_task(task, base + RL_BASE, cfg.data.level)
    rl_stream.policy = level_policy(cfg, task)
    if rl_stream.policy is not None:
        rl_stream.level = rl_stream.policy.level
    sft_stream = ProblemStream.from_task(task, base + SFT_BASE, cfg.data.level)
    return (
        sft_stream.prefetch(cfg.data.prefetch),
        rl_stream.prefetch(cfg.data.prefetch),
        eval_samples,
        [],
    )


def run(cfg: Config) -> dict:
    """Run every stage of ``cfg``; returns the summary dict also written to summary.json."""
    t_start = time.time()
    out = Path(cfg.run.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    seed_everything(cfg.run.seed)
    family = load_family(
        cfg.model.name_or_path,
        seed=cfg.run.seed,
        min_pixels=cfg.model.min_pixels,
        max_pixels=cfg.model.max_pixels,
    )  # the box convention and resized image size, before any weights are loaded
    sft_stream, rl_stream, eval_samples, skipped = make_data(cfg, family)
    reward_fn = make_reward(cfg)

    # --- cold start --------------------------------------------------------------------
    sft_dir = out / "sft"
    if cfg.sft.steps > 0 and not (sft_dir / "COMPLETE").exists():
        model, processor = _load(cfg, cfg.model.name_or_path)
        family = make_family(cfg, model.config.model_type, processor)
        model = prepare_policy(model, cfg.model)
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
        )
        # RL starts from a plain model either way: LoRA adapters are merged into the export.
        (save_merged if is_lora(model) else save_policy)(model, processor, sft_dir)
        (sft_dir / "sft_metrics.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in sft_losses)
        )
        (sft_dir / "COMPLETE").write_text("")
        del model
    init_path = str(sft_dir) if cfg.sft.steps > 0 else cfg.model.name_or_path

    # --- RL ------------------------------------------------------------------------------
    seed_everything(cfg.run.seed)
    model, processor = _load(cfg, init_path)
    model = prepare_policy(model, cfg.model)
    family = make_family(cfg, model.config.model_type, processor)
    ref_model = None
    if cfg.algorithm.kl_coef > 0 or cfg.rl.track_kl:  # beta = 0 skips it unless KL is tracked
        if is_lora(model):  # the frozen base under the adapters is the reference
            ref_model = model
        else:
            ref_model, _ = _load(cfg, init_path)
            ref_model.eval().requires_grad_(False)

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
        on_eval=lambda step, res: greedy.__setitem__(step, res),
    )
    if is_lora(model):  # checkpoints hold adapters only; export a plain model too
        save_merged(model, processor, out / "merged")
    summary = summarize(cfg, result.evals, time.time() - t_start)
    summary["train_lines_skipped"] = len(skipped)
    if skipped:  # reported, not lost: every skipped line with its reason
        (out / "skipped.jsonl").write_text(
            "".join(json.dumps({"line": n, "reason": r}) + "\n" for n, r in skipped)
        )
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if 0 in greedy and len(greedy) > 1:  # a resumed run lacks the step-0 completions
        write_examples(out, eval_samples[:N_EXAMPLES], greedy[min(greedy)], greedy[max(greedy)])
    from mmrft.report.html import write_report

    write_report(out)
    return summary


def make_family(cfg: Config, model_type: str, processor: object) -> ModelFamily:
    """The family adapter with the run's prompt and video options."""
    return family_for(
        model_type,
        processor,
        cfg.data.system_prompt,
        video_fps=cfg.model.video_fps,
        max_frames=cfg.model.max_frames,
        processor_kwargs=dict(cfg.model.processor_kwargs),
    )


def _load(cfg: Config, name_or_path: str):
    model, processor = load_policy(
        name_or_path,
        dtype=cfg.model.dtype,
        attn_implementation=cfg.model.attn_implementation,
        seed=cfg.run.seed,
        min_pixels=cfg.model.min_pixels,
        max_pixels=cfg.model.max_pixels,
        quantization=cfg.model.quantization,
    )
    return model.to(resolve_device(cfg.model.device)), processor


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
