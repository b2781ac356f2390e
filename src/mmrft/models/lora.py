"""LoRA adapters (via peft) and freezing helpers, driven by the model-family adapter.

Design note. Each family names where its language model, vision encoder and projector live
(``ModelFamily.language_model`` / ``vision_tower`` / ``projector``), so nothing here guesses
module names:

* ``apply_lora`` adapts the decoder's attention and MLP projections of the *language model
  only* (``ModelFamily.lora_target_modules()``, a regex). Vision encoders reuse the same names
  (``q_proj`` in SigLIP/CLIP, ``gate_proj`` in Qwen2.5-VL's ViT), so a plain name list would
  silently adapt them too. Pass ``target_modules`` ("all-linear", a list, or a regex) to choose
  otherwise, and ``modules_to_save`` to train a small module in full (e.g. the projector).
* ``merge_lora`` folds the adapters into the base weights for export: the result is an ordinary
  transformers model that ``save_policy`` / ``load_policy`` handle like any checkpoint.
  ``save_merged`` does that on a copy, so training can go on with the adapters.
* QLoRA: on a model loaded quantized (``model.quantization``, see ``mmrft.models.quantize``)
  ``apply_lora`` first runs peft's ``prepare_model_for_kbit_training`` (freezes the base, casts
  its full-precision weights to float32 for stable training), and ``merge_lora`` dequantizes the
  base before merging, since merging into 4-bit weights would round the update away.
* ``freeze_vision`` / ``freeze_projector`` set ``requires_grad=False`` on the vision encoder
  and/or the vision-to-text connector, for full fine-tuning of the language side.

With LoRA the frozen base doubles as the KL reference model: ``with model.disable_adapter():``
gives reference log-probs without a second copy of the weights.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch
from peft import (
    LoraConfig,
    PeftModel,
    get_peft_model,
    get_peft_model_state_dict,
    prepare_model_for_kbit_training,
    set_peft_model_state_dict,
)
from transformers import PreTrainedModel

from mmrft.models.families import ModelFamily
from mmrft.models.loading import base_model
from mmrft.models.quantize import dequantize, is_quantized


def apply_lora(
    model: PreTrainedModel,
    family: ModelFamily | type[ModelFamily],
    *,
    rank: int = 16,
    alpha: int = 32,
    dropout: float = 0.0,
    target_modules: str | list[str] | None = None,
    modules_to_save: list[str] | None = None,
) -> PeftModel:
    """Wrap ``model`` in LoRA adapters; only adapter (and ``modules_to_save``) weights train.

    ``alpha / rank`` scales the update (peft's convention; 2 is the common default). Adapters
    start as an exact no-op (B = 0), so the wrapped model's outputs equal the base model's.
    A quantized model is prepared for k-bit training first. Gradient checkpointing stays as the
    caller set it on ``model`` (``prepare_policy`` does, non-reentrant): peft's default would
    switch it on.
    """
    if is_quantized(model):
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    config = LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules or family.lora_target_modules(),
        modules_to_save=modules_to_save,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def merge_lora(model: PeftModel) -> PreTrainedModel:
    """Fold the adapters into the base weights and drop them (modifies ``model`` in place).

    A quantized base is dequantized first and the adapters merged into the plain weights: the
    result is an ordinary full-precision model computing what the adapted model computed.
    """
    if not is_quantized(model):
        return model.merge_and_unload()
    adapter = model.active_adapter
    config = model.peft_config[adapter]
    state = get_peft_model_state_dict(model, adapter_name=adapter)
    base = dequantize(model.unload())  # the adapters removed unmerged; 4-bit layers -> Linear
    plain = get_peft_model(base, config, adapter_name=adapter)
    set_peft_model_state_dict(plain, state, adapter_name=adapter)
    return plain.merge_and_unload()


def save_merged(model: PeftModel, processor: object, path: str | Path) -> None:
    """Save a merged copy of an adapted model so ``load_policy(path)`` loads it as a plain model."""
    from mmrft.models.loading import save_policy

    save_policy(merge_lora(copy.deepcopy(model)), processor, path)


def _params_under(model: torch.nn.Module, paths: tuple[str, ...]) -> dict[str, torch.nn.Parameter]:
    base = base_model(model)
    found: dict[str, torch.nn.Parameter] = {}
    for path in paths:
        for name, param in base.get_submodule(path).named_parameters(prefix=path):
            found[name] = param
    return found


def freeze_vision(
    model: torch.nn.Module, family: ModelFamily | type[ModelFamily], *, projector: bool = True
) -> int:
    """Freeze the vision encoder (and, by default, the projector); returns parameters frozen.

    ``projector=False`` keeps the connector trainable -- the usual choice when the language
    model is also frozen or LoRA-adapted and the connector is small.
    """
    params = _params_under(model, family.vision_tower)
    if projector:
        params.update(_params_under(model, family.projector))
    else:
        for name in _params_under(model, family.projector):
            params.pop(name, None)  # Qwen's merger sits inside the vision tower
    for param in params.values():
        param.requires_grad_(False)
    return sum(p.numel() for p in params.values())


def freeze_projector(model: torch.nn.Module, family: ModelFamily | type[ModelFamily]) -> int:
    """Freeze the vision-to-text connector only; returns parameters frozen."""
    params = _params_under(model, family.projector)
    for param in params.values():
        param.requires_grad_(False)
    return sum(p.numel() for p in params.values())


def trainable_parameters(model: torch.nn.Module) -> dict[str, int]:
    """``{"trainable": n, "total": n}`` parameter counts, for the run log."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": trainable, "total": total}
