"""Mixed precision: low-precision compute, float32 master weights and optimizer states.

Design note. ``model.dtype`` names the *compute* dtype. A policy that trains keeps its weights,
gradients and AdamW states in float32 (loaded so by the pipeline) and computes in bfloat16:
under torch.autocast in one process, or through FSDP2's ``MixedPrecisionPolicy`` (bf16 gathered
weights, gradients reduced in float32) when sharded. AdamW on bf16 weights would lose updates
smaller than a weight's 8-bit mantissa step (~0.4% of the weight), which is most of them at RL
learning rates. Log-probs and losses are computed in float32 either way
(``completion_logprobs`` upcasts the logits). Frozen copies (the KL reference) load directly in
the compute dtype: they never take an update.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch

from mmrft.models.loading import DTYPES
from mmrft.trainer.distributed import is_sharded


def master_dtype(compute: str, quantization: str | None = None) -> str:
    """The dtype a trainable policy is loaded in: float32 under mixed precision; a quantized
    model keeps ``compute`` (only its float LoRA adapters train, which peft keeps in float32).

    >>> master_dtype("bfloat16"), master_dtype("float32"), master_dtype("bfloat16", "nf4")
    ('float32', 'float32', 'bfloat16')
    """
    return compute if quantization is not None else "float32"


def autocast(compute: str, model: torch.nn.Module) -> AbstractContextManager:
    """torch.autocast to ``compute`` on the model's device; nothing for float32 or a model FSDP2
    already casts (its MixedPrecisionPolicy)."""
    dtype = DTYPES[compute]
    if dtype == torch.float32 or is_sharded(model):
        return nullcontext()
    device = next(model.parameters()).device.type
    # No cast cache: the context spans the whole loop, and autocast's cache would keep serving
    # the bf16 copies made at the first forward long after the optimizer changed the weights.
    return torch.autocast(device_type=device, dtype=dtype, cache_enabled=False)
