"""Measured peak memory of one RL update step on this CPU, to check the planner against.

How it measures: large allocations are forced onto mmap (``mallopt``), so freed tensors go back
to the OS at once and the resident set tracks live memory; the kernel's peak-RSS counter
(``VmHWM``) is reset (``/proc/self/clear_refs``) right before the step and read right after.
AdamW's states are created beforehand by one zero-gradient step, so the measured step is a
steady-state one (weights and optimizer states resident, as in every step after the first).
The benchmark runs each measurement in a fresh process (``python -m mmrft.plan.measure``); in
a running process the mmap threshold is put back to glibc's default (128 KiB) afterwards, but
stays fixed instead of adapting. Linux only.
"""

from __future__ import annotations

import ctypes
import gc
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["freed_to_os", "measure_update_step", "scaled_qwen2_5_vl_config", "step_peak"]

_M_MMAP_THRESHOLD = -3
_GLIBC_DEFAULT_MMAP_THRESHOLD = 128 * 1024


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+)", f.read()).group(1))


def _settle() -> int:
    """Collect garbage, give freed heap back to the OS; the resident bytes after that."""
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    return _status_kib("VmRSS") * 1024


def scaled_qwen2_5_vl_config(
    *, hidden: int, intermediate: int, layers: int, heads: int, kv_heads: int, vocab: int,
    vision_hidden: int, vision_intermediate: int, vision_depth: int, tied: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """A Qwen2.5-VL config.json dict with the published structure (GQA, SwiGLU, gated vision
    MLP, window attention, 2x2 merger) at a chosen width and depth."""
    head_dim = hidden // heads
    t = head_dim // 8  # mRoPE (temporal, height, width) in the published 16:24:24 proportion
    return {
        "model_type": "qwen2_5_vl",
        "hidden_size": hidden, "intermediate_size": intermediate, "num_hidden_layers": layers,
        "num_attention_heads": heads, "num_key_value_heads": kv_heads, "vocab_size": vocab,
        "tie_word_embeddings": tied, "max_position_embeddings": 4096,
        "rope_scaling": {"type": "mrope", "mrope_section": [t, (head_dim // 2 - t) // 2, (head_dim // 2 - t) // 2]},
        "vision_start_token_id": vocab - 4, "vision_end_token_id": vocab - 3,
        "image_token_id": vocab - 2, "video_token_id": vocab - 1,
        "vision_config": {
            "depth": vision_depth, "hidden_size": vision_hidden,
            "intermediate_size": vision_intermediate, "num_heads": max(1, vision_hidden // 64),
            "out_hidden_size": hidden, "patch_size": 14, "spatial_merge_size": 2,
            "temporal_patch_size": 2, "window_size": 112,
            "fullatt_block_indexes": [vision_depth - 1],
        },
    }  # fmt: skip


def _inputs(cfg: dict[str, Any], n: int, text_tokens: int, grid: int, completion: int):
    """N left-padded prompts (text + one image of grid x grid patches) and their completions."""
    import torch

    vocab, merged = cfg["vocab_size"], grid * grid // 4
    g = torch.Generator().manual_seed(0)
    half = text_tokens // 2
    ids = [torch.randint(0, vocab - 4, (half,), generator=g)]
    ids += [torch.tensor([cfg["vision_start_token_id"]])]
    ids += [
        torch.full((merged,), cfg["image_token_id"]),
        torch.tensor([cfg["vision_end_token_id"]]),
    ]
    ids += [torch.randint(0, vocab - 4, (text_tokens - half - 2,), generator=g)]
    prompt = torch.cat(ids).repeat(n, 1)  # [N, P]
    mask = torch.ones_like(prompt)
    mask[1::2, :1] = 0  # odd rows left-padded by one token, so the padded-batch attention path runs
    mm = (prompt == cfg["image_token_id"]).long()
    pixels = torch.randn(n * grid * grid, 3 * 2 * 14 * 14, generator=g)
    thw = torch.tensor([[1, grid, grid]] * n)
    completion_ids = torch.randint(0, vocab - 4, (n, completion), generator=g)  # [N, L]
    prompt_inputs = {
        "input_ids": prompt, "attention_mask": mask, "mm_token_type_ids": mm,
        "pixel_values": pixels, "image_grid_thw": thw,
    }  # fmt: skip
    return prompt_inputs, completion_ids, torch.ones_like(completion_ids)


@contextmanager
def freed_to_os() -> Iterator[None]:
    """Large allocations go to mmap inside the block, so a freed tensor leaves the resident set
    at once and peak RSS tracks live memory (glibc's default threshold is restored after)."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallopt(_M_MMAP_THRESHOLD, 64 * 1024)
    try:
        yield
    finally:
        libc.mallopt(_M_MMAP_THRESHOLD, _GLIBC_DEFAULT_MMAP_THRESHOLD)


def step_peak(step: Callable[[], object]) -> tuple[int, int]:
    """``(resident, peak_extra)`` bytes: the settled resident set before ``step()`` and the
    kernel's peak-RSS counter (reset just before) above it while ``step()`` runs."""
    resident = _settle()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    step()
    return resident, _status_kib("VmHWM") * 1024 - resident


def measure_update_step(
    cfg: dict[str, Any], *, n: int, text_tokens: int, grid: int, completion: int,
    checkpointing: bool = False,
) -> dict[str, int]:  # fmt: skip
    """Bytes: ``import`` (resident after imports), ``static`` (model + AdamW states),
    ``step`` (peak extra of one forward + backward + AdamW step over ``n`` sequences, with
    gradient checkpointing if asked) and ``params``. Float32, random init, the project's own log-prob path."""
    with freed_to_os():
        return _measure(cfg, n, text_tokens, grid, completion, checkpointing)


def _measure(
    cfg: dict[str, Any], n: int, text_tokens: int, grid: int, completion: int, checkpointing: bool
) -> dict[str, int]:
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from mmrft.models.logprobs import completion_logprobs

    torch.manual_seed(0)
    rss0 = _settle()
    config = Qwen2_5_VLConfig(**cfg)
    config._attn_implementation = "sdpa"
    model = Qwen2_5_VLForConditionalGeneration(config).train()
    if checkpointing:  # as mmrft.models.setup enables it
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
    for p in model.parameters():  # creates AdamW's states without changing the weights
        p.grad = torch.zeros_like(p)
    opt.step()
    opt.zero_grad(set_to_none=True)
    batch = _inputs(cfg, n, text_tokens, grid, completion)

    def step() -> None:
        logp, logits = completion_logprobs(model, *batch)
        with torch.no_grad():  # the trainer logs the entropy from these logits
            torch.softmax(logits, -1)
        loss = -logp.sum() / batch[2].sum()
        del logits
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    rss1, extra = step_peak(step)
    n_params = sum(p.numel() for p in model.parameters())
    return {"import": rss0, "static": rss1 - rss0, "step": extra, "params": n_params}


if __name__ == "__main__":  # python -m mmrft.plan.measure '{"cfg": {...}, "n": 4, ...}'
    spec = json.loads(sys.argv[1])
    cfg = spec.pop("cfg")
    print(json.dumps(measure_update_step(cfg, **spec)))
