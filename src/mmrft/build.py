"""The composition root: a validated ``Config`` in, ready components out.

Everything that turns config values into objects lives here, so the training loop and the
evaluation receive components, not the config, to decide what to run, and a value can be
followed from YAML to its use in one file:

* the RL math: ``make_objective`` — the registry entries ``algorithm.*`` names, bound to exactly
  the options their registrations declare (``config.ALGORITHM_OPTIONS`` maps config keys to
  those keyword names; no signature is read), handed to the trainer as an ``Objective``;
* the run's problems and scoring: ``make_task``, ``make_data``, ``make_reward``;
* the model side: ``make_family`` and ``make_sampler``;
* ``run``: one whole run, these components passed into the trainer's stages.

Layering: ``config``, the registries (``algorithms``, ``tasks``, ``rewards``, ``models``,
``rollout``, ``data``), ``eval`` and ``trainer`` sit below this module; only ``cli`` is above it
(``tests/test_imports.py`` enforces the order).
"""

from __future__ import annotations

import inspect
import json
import logging
import shutil
import time
from functools import partial
from pathlib import Path
from typing import Any

from mmrft.algorithms.advantages import ADV_ESTIMATORS
from mmrft.algorithms.kl import KL_ESTIMATORS, KLEstimator
from mmrft.algorithms.losses import POLICY_LOSSES, PolicyLoss
from mmrft.config import ALGORITHM_OPTIONS, AlgorithmConfig, Config, RolloutConfig, save_config
from mmrft.data.load import load_dataset_file
from mmrft.data.sample import Sample
from mmrft.data.screen import encode_screen
from mmrft.data.stream import ProblemStream
from mmrft.dataclass_yaml import check
from mmrft.eval.harness import EvalResult
from mmrft.models import family_for
from mmrft.models.families import ModelFamily
from mmrft.models.loading import load_family
from mmrft.models.setup import is_lora, prepare_policy
from mmrft.registry import Registry
from mmrft.rewards.build import build_reward
from mmrft.rewards.compose import SampleRouter
from mmrft.rewards.guard import GuardedReward
from mmrft.rollout import SAMPLERS
from mmrft.tasks import TASKS
from mmrft.tasks.curriculum import AdaptiveLevel, LevelSchedule, TaskMixture
from mmrft.trainer.distributed import barrier, init_distributed
from mmrft.trainer.objective import AdvantageEstimator, Objective
from mmrft.trainer.pipeline import (
    N_EXAMPLES,
    export_policy,
    keep_eval,
    load_model,
    name_lora_base,
    prepare_dataset,
    rebuild_policy,
    saved_before,
    seed_everything,
    shard,
    summarize,
    write_examples,
)
from mmrft.trainer.rl import train_rl
from mmrft.trainer.sft import train_sft

log = logging.getLogger(__name__)

# Base seeds of the training streams (see mmrft.tasks.base.sample_seeds): SFT and RL problems
# come from different ranges, and both are far below data.eval_seed.
SFT_BASE, RL_BASE = 1, 2


# --------------------------------------------------------------------------------------------
# The RL math, bound to its options
# --------------------------------------------------------------------------------------------


def bound_options(cfg: AlgorithmConfig, selector: str, registry: Registry) -> dict[str, Any]:
    """The options the entry ``cfg.<selector>`` declared, under its keyword names.

    >>> from mmrft.algorithms.losses import POLICY_LOSSES
    >>> bound_options(AlgorithmConfig(policy_loss="sapo"), "policy_loss", POLICY_LOSSES)
    {'tau_pos': 1.0, 'tau_neg': 1.05}
    """
    takes = registry.entry(getattr(cfg, selector)).options
    return {kw: getattr(cfg, key) for key, kw in ALGORITHM_OPTIONS[selector].items() if kw in takes}


def advantage_estimator(cfg: AlgorithmConfig) -> AdvantageEstimator:
    entry = ADV_ESTIMATORS.entry(cfg.adv_estimator)
    options = bound_options(cfg, "adv_estimator", ADV_ESTIMATORS)
    return AdvantageEstimator(cfg.adv_estimator, entry.obj, options, entry.needs)


def policy_loss(cfg: AlgorithmConfig) -> PolicyLoss:
    """``algorithm.policy_loss`` bound to its options: ``(logp, old_logp, adv, mask) -> (loss_mat, metrics)``."""
    return partial(
        POLICY_LOSSES.get(cfg.policy_loss), **bound_options(cfg, "policy_loss", POLICY_LOSSES)
    )


def kl_estimator(cfg: AlgorithmConfig) -> KLEstimator:
    """``algorithm.kl_estimator``: ``(logp, ref_logp) -> kl_mat`` (the estimators take no options)."""
    return KL_ESTIMATORS.get(cfg.kl_estimator)


def make_objective(cfg: AlgorithmConfig) -> Objective:
    """``algorithm.*`` as the trainer's ``Objective``: the bound estimator, loss and KL, plus
    the scalars that weigh them."""
    return Objective(
        estimator=advantage_estimator(cfg),
        policy_loss=policy_loss(cfg),
        kl=kl_estimator(cfg),
        agg_mode=cfg.loss_agg_mode,
        kl_coef=cfg.kl_coef,
        entropy_coef=cfg.entropy_coef,
        kl_in_reward=cfg.kl_in_reward,
    )


# --------------------------------------------------------------------------------------------
# Problems, rewards, model family, sampler
# --------------------------------------------------------------------------------------------


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


def make_reward(cfg: Config) -> GuardedReward:
    """``rl.reward``; the special name "task" scores each sample with the registered reward its
    dataset row names (``meta["reward"]``), else with its own task's reward (mixtures,
    datasets). Guarded by ``rl.reward_timeout_s`` and ``rl.reward_max_failing_steps``."""
    if cfg.rl.reward == "task":
        fn = SampleRouter(sample_reward_name)
    else:
        fn = build_reward(cfg.rl.reward)  # a name, module:function, file.py:function or spec
    return GuardedReward(
        fn,
        timeout_s=cfg.rl.reward_timeout_s,
        max_failing_steps=cfg.rl.reward_max_failing_steps,
    )


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
        loaded = load_dataset_file(  # JSONL, Parquet or a datasets dir
            cfg.data.train_path,
            allow_outside_paths=cfg.data.allow_outside_paths,
            max_pixels=cfg.model.max_pixels,  # big photos are scaled down as they are decoded
        )
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


def make_sampler(cfg: RolloutConfig, model: Any, family: ModelFamily) -> Any:
    """The engine ``rollout.engine`` names, with its engine-specific options."""
    options = {}
    if cfg.engine == "vllm":
        options = {
            "gpu_memory_utilization": cfg.vllm_gpu_memory_utilization,
            "kv_cache_gib": cfg.vllm_kv_cache_gib,
            "sync": cfg.vllm_sync,
            "sleep": cfg.vllm_sleep,
        }
    elif (
        cfg.engine == "hf"
    ):  # rollout.generation_batch_size rows per generate call bound the KV cache
        options = {"batch_size": cfg.generation_batch_size}
    return SAMPLERS.get(cfg.engine)(model, family, **options)


# --------------------------------------------------------------------------------------------
# The whole run: components into the trainer's stages
# --------------------------------------------------------------------------------------------


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
        "algorithm.adv_estimator": make_objective(cfg.algorithm).needs_critic,
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
        model, processor = load_model(cfg, cfg.model.name_or_path)
        family = make_family(cfg, model.config.model_type, processor)
        model = shard(cfg, prepare_policy(model, cfg.model), family)
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
        export_policy(
            model, processor, sft_dir, lambda: rebuild_policy(cfg, cfg.model.name_or_path)
        )
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
    model, processor = load_model(cfg, init_path)
    family = make_family(cfg, model.config.model_type, processor)
    model = shard(cfg, prepare_policy(model, cfg.model), family)
    name_lora_base(model, init_path)
    rl_stream.screen = encode_screen(family)
    ref_model = None
    if cfg.algorithm.kl_coef > 0 or cfg.rl.track_kl:  # beta = 0 skips it unless KL is tracked
        if is_lora(model):  # the frozen base under the adapters is the reference
            ref_model = model
        else:
            ref_model, _ = load_model(cfg, init_path, trainable=False)
            ref_model = shard(cfg, ref_model.eval().requires_grad_(False), family)

    greedy: dict[int, EvalResult] = {}
    result = train_rl(
        cfg,
        model,
        processor,
        family,
        stream=rl_stream,
        reward_fn=reward_fn,
        eval_samples=eval_samples,
        objective=make_objective(cfg.algorithm),
        sampler=make_sampler(cfg.rollout, model, family),
        ref_model=ref_model,
        on_eval=lambda step, res: keep_eval(out, greedy, step, res),
    )
    if is_lora(model):  # checkpoints hold adapters only; export a plain model too
        export_policy(model, processor, out / "merged", lambda: rebuild_policy(cfg, init_path))
    if not world.is_main:
        return {}
    summary = summarize(cfg, result.evals, time.time() - t_start)
    summary["train_lines_skipped"] = len(skipped)
    summary["train_samples_skipped"] = skip_log.count("id")  # loaded, but cannot be encoded
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    before = greedy.get(0) or saved_before(out)  # a resumed run: saved at step 0
    if before is not None and greedy and max(greedy) > 0:
        write_examples(out, eval_samples[:N_EXAMPLES], before, greedy[max(greedy)])
    from mmrft.report.html import write_report

    write_report(out)
    return summary
