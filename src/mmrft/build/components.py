"""Config values -> components: the RL math, the run's problems and rewards, the model side.

Each ``make_*`` takes a validated config (or one section of it) and returns a ready object; the
stages in ``mmrft.build.train`` pass these into the trainer. ``config.ALGORITHM_OPTIONS`` maps
``algorithm.*`` keys to the keyword names their registry entries declare (no signature is read).
"""

from __future__ import annotations

import inspect
import logging
import random
from functools import partial
from typing import Any

from mmrft.algorithms.advantages import ADV_ESTIMATORS
from mmrft.algorithms.kl import KL_ESTIMATORS, KLEstimator
from mmrft.algorithms.losses import ADVANTAGE_WEIGHTED, POLICY_LOSSES, PolicyLoss
from mmrft.config import ALGORITHM_OPTIONS, AlgorithmConfig, Config, RolloutConfig
from mmrft.data.load import load_dataset_file
from mmrft.data.rows import LoadResult
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.eval.harness import EvalResult
from mmrft.models import family_for
from mmrft.models.families import ModelFamily
from mmrft.registry import Registry
from mmrft.rewards.build import build_reward
from mmrft.rewards.compose import SampleRouter
from mmrft.rewards.guard import GuardedReward
from mmrft.rollout import SAMPLERS
from mmrft.tasks import TASKS
from mmrft.tasks.curriculum import AdaptiveLevel, LevelSchedule, TaskMixture
from mmrft.trainer.objective import AdvantageEstimator, Objective
from mmrft.trainer.sharded_eval import evaluate_sharded

log = logging.getLogger(__name__)

# Base seeds of the training streams (see mmrft.tasks.base.sample_seeds): SFT and RL problems
# come from different ranges, and both are far below data.eval_seed; the cold start's
# validation problems (sft.val_accuracy) from a third.
SFT_BASE, RL_BASE, VAL_BASE = 1, 2, 3


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
        advantage_weighted=ADVANTAGE_WEIGHTED in POLICY_LOSSES.entry(cfg.policy_loss).traits,
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
    """(SFT stream, RL stream, held-out eval problems, skipped training lines).

    The eval problems come from ``data.eval_path`` when set; else, with ``data.train_path``, from
    a held-out part of the training rows (``hold_out``; removed from training); else from the
    task, generated from ``data.eval_seed`` on. A run on the user's data is never evaluated on a
    different task.
    """
    task = make_task(cfg, family)
    eval_samples = None if cfg.data.eval_path is None else _eval_file(cfg)
    if cfg.data.train_path:
        loaded = _load(cfg, cfg.data.train_path)
        if loaded.skipped:
            log.warning(
                "%s: skipped %d bad lines (first: %s)",
                cfg.data.train_path,
                len(loaded.skipped),
                loaded.skipped[0],
            )
        train = loaded.samples
        if eval_samples is None:
            train, eval_samples = hold_out(
                train, cfg.data.eval_holdout, cfg.data.eval_size, cfg.data.eval_seed
            )
            log.info(
                "held out %d of %d rows of %s for evaluation (data.eval_holdout=%g, at most "
                "data.eval_size=%d; data.eval_path sets a file of its own)",
                len(eval_samples),
                len(loaded.samples),
                cfg.data.train_path,
                cfg.data.eval_holdout,
                cfg.data.eval_size,
            )
        rl_stream = ProblemStream.from_samples(train, cfg.run.seed + 1)
        rl_stream.drop_after = cfg.data.drop_saturated_after
        return (
            ProblemStream.from_samples(train, cfg.run.seed),
            rl_stream,
            eval_samples,
            loaded.skipped,
        )  # a fixed dataset: nothing to prefetch, no levels
    if eval_samples is None:
        # Eval problems use sample_seeds(eval_seed); training bases are seed*10 + 1|2, so the
        # two never meet while run.seed < eval_seed / 10.
        eval_samples = task.dataset(cfg.data.eval_size, cfg.data.eval_seed, cfg.data.level)
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


def _load(cfg: Config, path: str) -> LoadResult:
    return load_dataset_file(  # JSONL, Parquet or a datasets dir
        path,
        allow_outside_paths=cfg.data.allow_outside_paths,
        max_pixels=cfg.model.max_pixels,  # big photos are scaled down as they are decoded
    )


def _eval_file(cfg: Config) -> list[Sample]:
    """The first ``data.eval_size`` good rows of ``data.eval_path``."""
    loaded = _load(cfg, cfg.data.eval_path)
    if loaded.skipped:
        log.warning(
            "%s: skipped %d bad evaluation lines (first: %s)",
            cfg.data.eval_path,
            len(loaded.skipped),
            loaded.skipped[0][1],
        )
    if not loaded.samples:
        raise ValueError(f"data.eval_path {cfg.data.eval_path}: no usable evaluation rows")
    if len(loaded.samples) > cfg.data.eval_size:
        log.info(
            "%s: evaluating on its first %d of %d rows (data.eval_size)",
            cfg.data.eval_path,
            cfg.data.eval_size,
            len(loaded.samples),
        )
    return loaded.samples[: cfg.data.eval_size]


def hold_out(
    samples: list[Sample], fraction: float, cap: int, seed: int
) -> tuple[list[Sample], list[Sample]]:
    """(training rows, held-out rows): ``round(fraction * n)`` rows, at least one when
    ``fraction > 0``, at most ``cap`` and never all of them, chosen by ``seed``; both keep
    file order.

    >>> rows = [Sample(str(i), "?", "0") for i in range(10)]
    >>> train, held = hold_out(rows, 0.2, 500, seed=0)
    >>> len(train), len(held), sorted(s.id for s in train + held) == sorted(s.id for s in rows)
    (8, 2, True)
    """
    n = min(round(fraction * len(samples)), cap, len(samples) - 1)
    if fraction > 0 and len(samples) > 1:
        n = max(n, 1)
    picked = set(random.Random(seed).sample(range(len(samples)), max(n, 0)))
    train = [s for i, s in enumerate(samples) if i not in picked]
    return train, [s for i, s in enumerate(samples) if i in picked]


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
        options = {
            "batch_size": cfg.generation_batch_size,
            "share_prefill": cfg.share_prefill,
            "onednn_weights": cfg.onednn_weights,
            "decode_attention": cfg.decode_attention,
        }
    return SAMPLERS.get(cfg.engine)(model, family, **options)


def held_out_eval(cfg: Config, sampler: Any, samples: list[Sample], reward_fn: Any) -> EvalResult:
    """A stage's held-out evaluation: ``eval.*`` sampling of ``samples`` through ``sampler``
    (``make_sampler``), seeded by ``run.seed``; under torchrun each rank takes a share."""
    return evaluate_sharded(
        sampler,
        samples,
        reward_fn,
        n_samples=cfg.eval.n_samples,
        temperature=cfg.eval.temperature,
        max_new_tokens=cfg.eval.max_new_tokens,
        seed=cfg.run.seed,
    )
