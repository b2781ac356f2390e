"""Get a loaded policy ready to train, as ``ModelConfig`` says: freezing, LoRA, checkpointing.

One function so SFT and RL prepare the model the same way, in the one order that works:
freeze first (LoRA leaves already-frozen weights alone), enable gradient checkpointing on the
transformers model (peft forwards the call, but the base must own the flag), then wrap in LoRA.
A quantized model (``model.quantization``: QLoRA) must get LoRA; ``apply_lora`` prepares it for
k-bit training and keeps the checkpointing set here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from peft import PeftModel

from mmrft.models.families import FAMILIES
from mmrft.models.lora import apply_lora, freeze_projector, freeze_vision
from mmrft.models.quantize import check_trainable

if TYPE_CHECKING:  # for the annotation only: config sits above models (it lists their names)
    from mmrft.config import ModelConfig


def prepare_policy(model: torch.nn.Module, cfg: ModelConfig) -> torch.nn.Module:
    """The model to train: ``model`` itself, or ``model`` wrapped in LoRA adapters."""
    family = FAMILIES.get(model.config.model_type)
    check_trainable(model, cfg.lora_rank)  # also a checkpoint saved quantized
    if cfg.freeze_vision:
        freeze_vision(model, family)
    if cfg.freeze_projector:
        freeze_projector(model, family)
    if cfg.gradient_checkpointing:
        # Non-reentrant checkpointing handles frozen inputs (LoRA) without enable_input_require_grads.
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # its newer transformers name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    if cfg.lora_rank > 0:
        model = apply_lora(
            model,
            family,
            rank=cfg.lora_rank,
            alpha=cfg.lora_alpha,
            dropout=cfg.lora_dropout,
            target_modules=cfg.lora_target_modules,
        )
    return model


def resolve_device(name: str) -> torch.device:
    """``model.device`` as a torch device; "auto" picks CUDA when present.

    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(f"model.device {name!r} is not a torch device ({e})") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"model.device is {name!r} but no CUDA device is available here")
    return device


def is_lora(model: torch.nn.Module) -> bool:
    return isinstance(model, PeftModel)
