"""QLoRA support: which weights bitsandbytes quantizes, and how to get full-precision ones back.

Design note. ``model.quantization`` (nf4 | fp4 | int8) loads the *language model's* linear layers
quantized by bitsandbytes; LoRA adapters on top of them train in full precision (QLoRA,
Dettmers et al. 2023, https://arxiv.org/abs/2305.14314). Three choices:

* **What stays in full precision.** The vision tower, the projector and ``lm_head`` are kept
  as ``torch.nn.Linear`` (``llm_int8_skip_modules``): they are a small share of the weights, the
  LoRA targets are in the language model anyway, and quantizing the output layer costs accuracy
  on every token. The paths come from the family adapter (``ModelFamily.vision_tower`` /
  ``projector``), never guessed. transformers (5.x ``should_convert_module``) skips a module
  whose full name starts with a listed path up to a module boundary, or ends with it, so
  ``"model.visual"`` covers ``model.visual.blocks.0.attn.qkv`` and ``"lm_head"`` the head.
  Passing any list replaces transformers' own default (the output embeddings), so ``lm_head``
  is listed explicitly.
* **Quantized weights do not train**, so quantization needs LoRA (``check_trainable``).
* **Merging for export dequantizes first** (``dequantize``): peft's merge into a 4-bit layer
  adds the update and *re-quantizes* the sum, rounding the adapter away. mmrft instead replaces
  every bitsandbytes layer by a ``torch.nn.Linear`` holding the dequantized weight
  (``bnb.functional.dequantize_4bit`` / ``int8_vectorwise_dequant``, via transformers'
  ``PreTrainedModel.dequantize``) and merges the adapters into that. The export then computes
  exactly what the trained model computed (dequantized base + adapter), not the original
  full-precision base + adapter, which the adapter was never trained against.

* **No CPU repacking of 4-bit weights** (``use_trainable_cpu_path``): on a CPU with AVX-512-BF16
  (bitsandbytes' ``has_avx512bf16()``), ``Linear4bit.forward`` permanently repacks its weight into
  an inference-only layout the first time it runs in eval mode without grad, i.e. at the first
  rollout. Every later forward, training included, then goes through a bf16 GEMV that has no
  autograd rule and adds the bias in place, so training fails ("a view of a leaf Variable ... in
  an in-place operation") and no-grad log-probs drift by ~1e-3 from the training forward. mmrft
  turns that path off on every 4-bit layer right after loading, so all CPUs take the same
  dequantize-then-``linear`` route: the one the training forward must take anyway.

``nf4`` is the QLoRA default (normal-float 4-bit, double quantization of the block scales:
about 0.4 bit per weight saved); ``fp4`` is plain 4-bit float; ``int8`` is LLM.int8().
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import BitsAndBytesConfig

from mmrft.models.families import ModelFamily
from mmrft.registry import Registry

# The output projection's module name in every transformers causal-LM / image-text-to-text class.
OUTPUT_HEAD = "lm_head"

# kind -> builder(compute_dtype, skip_modules) -> BitsAndBytesConfig
QUANTIZATIONS: Registry[Callable[[torch.dtype, list[str]], BitsAndBytesConfig]] = Registry(
    "model.quantization"
)


@QUANTIZATIONS.register("nf4")
def _nf4(compute_dtype: torch.dtype, skip: list[str]) -> BitsAndBytesConfig:
    return _four_bit("nf4", compute_dtype, skip)


@QUANTIZATIONS.register("fp4")
def _fp4(compute_dtype: torch.dtype, skip: list[str]) -> BitsAndBytesConfig:
    return _four_bit("fp4", compute_dtype, skip)


@QUANTIZATIONS.register("int8")
def _int8(compute_dtype: torch.dtype, skip: list[str]) -> BitsAndBytesConfig:
    # LLM.int8() computes in fp16 with fp16 outliers; it has no compute dtype to choose.
    return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=skip)


def _four_bit(quant_type: str, compute_dtype: torch.dtype, skip: list[str]) -> BitsAndBytesConfig:
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type=quant_type,
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute_dtype,
        llm_int8_skip_modules=skip,
    )


def skip_modules(family: ModelFamily | type[ModelFamily]) -> list[str]:
    """Module paths kept in full precision: the vision tower, the projector and the output head."""
    return [*family.vision_tower, *family.projector, OUTPUT_HEAD]


def quantization_config(
    kind: str | None,
    family: ModelFamily | type[ModelFamily],
    *,
    dtype: torch.dtype | None = None,
) -> BitsAndBytesConfig | None:
    """The ``from_pretrained(quantization_config=...)`` for ``model.quantization``; None for null.

    ``dtype`` (the model's dtype) is the 4-bit layers' compute dtype; bfloat16 when not given.
    Raises ValueError for an unknown kind or when bitsandbytes is not installed.
    """
    if kind is None:
        return None
    try:
        build = QUANTIZATIONS.get(kind)
    except KeyError as err:
        raise ValueError(err.args[0]) from None
    require_bitsandbytes(kind)
    return build(dtype or torch.bfloat16, skip_modules(family))


def use_trainable_cpu_path(model: torch.nn.Module) -> int:
    """Keep every bitsandbytes 4-bit layer of ``model`` off the CPU repack (see the design note).

    Unpacks a layer an earlier forward already repacked. Returns the number of 4-bit layers.
    """
    try:
        from bitsandbytes.functional import _convert_weight_packed_for_cpu_inverse
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return 0
    layers = [m for m in model.modules() if isinstance(m, Linear4bit)]
    for layer in layers:
        layer.support_avx512bf16_for_cpu = False
        state = getattr(layer.weight, "quant_state", None)
        if state is not None and getattr(state, "packing_format_for_cpu", False):
            layer.weight.data, layer.weight.quant_state = _convert_weight_packed_for_cpu_inverse(
                layer.weight.data, state
            )
    return len(layers)


def require_bitsandbytes(kind: str) -> None:
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        raise ValueError(
            f"model.quantization={kind!r} needs bitsandbytes: pip install 'mmrft[qlora]'"
        ) from None


def is_quantized(model: torch.nn.Module) -> bool:
    """The (transformers) model holds bitsandbytes 4-bit or 8-bit weights."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return bool(
        getattr(base, "is_loaded_in_4bit", False) or getattr(base, "is_loaded_in_8bit", False)
    )


def check_trainable(model: torch.nn.Module, lora_rank: int) -> None:
    """Quantized weights cannot train: a quantized model needs LoRA adapters (QLoRA)."""
    if is_quantized(model) and lora_rank <= 0:
        raise ValueError(
            "model.quantization: the model is loaded quantized (or its checkpoint is), so only "
            "LoRA adapters can train; set model.lora_rank > 0 or model.quantization=null"
        )


def dequantize(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every bitsandbytes layer of a quantized transformers model by a ``torch.nn.Linear``
    holding its dequantized weight, in place; drops the quantization config (the model then
    saves and loads as a plain checkpoint). Returns ``model``."""
    model.dequantize(dtype=_plain_dtype(model))
    for flag in ("is_loaded_in_4bit", "is_loaded_in_8bit"):
        if hasattr(model, flag):
            delattr(model, flag)
    return model


def _plain_dtype(model: torch.nn.Module) -> torch.dtype:
    """The dtype of the model's full-precision weights (peft's k-bit preparation makes them fp32)."""
    for param in model.parameters():
        if param.dtype.is_floating_point:
            return param.dtype
    return torch.float32
