"""``mmrft plan``: a run config -> ``Setup`` -> ``MemoryPlan`` -> a rich table or JSON.

Prompt length: one image per prompt at ``model.max_pixels`` (max_pixels / (patch * merge)^2
tokens, merge^2 times as many vision patches) plus ``text_tokens`` of text (64 by default; pass
``--prompt-tokens`` for the real total when prompts are longer or carry several images).
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Table

from mmrft.plan.memory import GIB, MemoryPlan, Setup, plan_memory
from mmrft.plan.shapes import ModelShape, load_model_config, shape_from_config

__all__ = ["parse_gib", "plan_config", "print_plan", "setup_from_config"]


def parse_gib(text: str) -> float:
    """Device memory in GiB from "80GB", "80GiB", "80G", "141 GB" or "80" (vendors' "GB" on GPU
    spec sheets are GiB: an 80 GB H100 has 80 GiB).

    >>> parse_gib("80GB"), parse_gib("24 GiB"), parse_gib("0.5")
    (80.0, 24.0, 0.5)
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(gib|gb|g)?\s*", text.lower())
    if not m:
        raise ValueError(f"--gpu-mem: expected a size like 80GB, got {text!r}")
    return float(m.group(1))


def setup_from_config(
    cfg: Any, shape: ModelShape, *, gpus: int, gpu_mem_gib: float, prompt_tokens: int | None,
    text_tokens: int = 64,
) -> Setup:  # fmt: skip
    """The planner's ``Setup`` for a loaded ``Config``; keys missing from older configs fall back
    to their defaults (getattr), so the planner runs on any version of the schema."""
    model, rollout, rl, alg = cfg.model, cfg.rollout, cfg.rl, cfg.algorithm
    dist = getattr(cfg, "distributed", None)
    image_tokens = model.max_pixels // shape.image_token_pixels if shape.vision else 0
    patches = image_tokens * shape.vision.merge_size**2 if shape.vision else 0
    critic = None
    if alg.adv_estimator == "gae":
        critic = "shared" if cfg.critic.model == "shared" else "copy"
    return Setup(
        gpus=gpus,
        gpu_mem_gib=gpu_mem_gib,
        strategy=getattr(dist, "strategy", "fsdp2") if gpus > 1 else "none",
        dtype=model.dtype,
        lora_rank=model.lora_rank,
        quantization=model.quantization,
        gradient_checkpointing=model.gradient_checkpointing,
        freeze_vision=model.freeze_vision,
        prompts_per_step=rollout.prompts_per_step,
        group_size=rollout.group_size,
        mini_batches=alg.mini_batches,
        prompt_tokens=prompt_tokens or image_tokens + text_tokens,
        image_patches=patches,
        max_new_tokens=rollout.max_new_tokens,
        micro_batch_size=getattr(rl, "micro_batch_size", None),
        logprob_micro_batch_size=getattr(rl, "logprob_micro_batch_size", None),
        generation_batch_size=getattr(rollout, "generation_batch_size", None),
        reshard_after_forward=getattr(dist, "reshard_after_forward", True),
        reference=alg.kl_coef > 0 or rl.track_kl,
        critic=critic,
        engine=rollout.engine,
        vllm_gpu_memory_utilization=rollout.vllm_gpu_memory_utilization,
        vllm_sleep=rollout.vllm_sleep,
    )


def plan_config(
    cfg: Any, *, gpus: int = 1, gpu_mem_gib: float = 80.0, prompt_tokens: int | None = None
) -> tuple[Setup, MemoryPlan]:
    """Read ``cfg.model.name_or_path``'s config.json (offline) and plan the run."""
    shape = shape_from_config(load_model_config(cfg.model.name_or_path))
    setup = setup_from_config(
        cfg, shape, gpus=gpus, gpu_mem_gib=gpu_mem_gib, prompt_tokens=prompt_tokens
    )
    return setup, plan_memory(shape, setup)


_WHAT = {
    "policy weights": "fp32 master weights (LoRA: base in model.dtype + fp32 adapters)",
    "gradients": "fp32, sharded under fsdp2",
    "optimizer states": "AdamW exp_avg + exp_avg_sq, fp32",
    "compute copy": "bf16 weights gathered/cast for compute",
    "activations (no ckpt)": "saved for backward, one micro-batch",
    "activations (ckpt)": "same with model.gradient_checkpointing",
    "logits (update)": "[N, L+1, V] logits, fp32 log-softmax, 2 fp32 grads",
    "log-prob pass": "no-grad old/ref log-probs, one logprob micro-batch",
    "rollout engine": "vLLM reservation, or HF KV cache + unsharded weights",
    "reference model": "frozen copy for the KL term (none with LoRA)",
    "critic": "gae: copy (weights + AdamW) or shared value head",
}


def _gib(n: float) -> str:
    return f"{n / GIB:,.2f}"


def print_plan(setup: Setup, plan: MemoryPlan, name: str, console: Console | None = None) -> None:
    """The ``mmrft plan`` table: components, phases, verdict and suggested micro-batch sizes."""
    console = console or Console()
    p = plan.params
    title = (
        f"{name}: {p['total'] / 1e9:.2f}B params ({p['trainable'] / 1e9:.3f}B trainable) · "
        f"{setup.gpus} x {setup.gpu_mem_gib:g} GiB · {setup.strategy} · {setup.dtype} · "
        f"micro-batch {plan.micro_batch} x {setup.seq_len} tokens"
    )
    table = Table(title=title, title_justify="left")
    table.add_column("per device", justify="left")
    table.add_column("GiB", justify="right")
    table.add_column("what", justify="left", style="dim")
    for key, value in plan.components.items():
        table.add_row(key, _gib(value), _WHAT.get(key, ""))
    table.add_section()
    for key, value in plan.phases.items():
        mark = "" if value <= plan.budget else " [red]over[/red]"
        table.add_row(f"peak: {key}", _gib(value) + mark, "")
    console.print(table)
    verdict = "[green]fits[/green]" if plan.fits else "[red]does not fit[/red]"
    console.print(
        f"peak {_gib(plan.peak)} GiB of {_gib(plan.budget)} usable "
        f"({setup.gpu_mem_gib:g} GiB x 0.9): {verdict}"
    )
    s = plan.suggest
    console.print(
        f"largest rl.micro_batch_size that fits: {s['micro_batch_size']} "
        f"(with gradient checkpointing: {s['micro_batch_size (ckpt)']}); "
        f"rl.logprob_micro_batch_size: {s['logprob_micro_batch_size']} "
        f"(of {setup.mini_batch} sequences per mini-batch, "
        f"{setup.sequences_per_device} per step per device)"
    )
    for note in plan.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
