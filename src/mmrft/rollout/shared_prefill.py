"""Shared prompt prefill: the G completions of a prompt start from one prefill of it.

A rollout repeats every prompt G times, so plain ``generate`` runs G identical prefills (for a
VLM the vision encoder too, and the image tokens are most of the prompt). Here each distinct
prompt is forwarded once, all but its last token, into a KV cache; the cache is expanded to G
rows per prompt (``Cache.batch_repeat_interleave``) and handed to ``generate``, which feeds the
last prompt token as its first step and decodes as usual: logits processors, stopping and the
sampler are transformers' own. The vision inputs are not passed to ``generate`` (they are in
the cache), and the prompt's last token is text in every chat template.

Notation: N = B * G rows (B prompts, each G times, group-contiguous), P prompt length (left
padded).

Position ids must be the ones ``generate`` would give the same tokens, so how to prefill is a
per-architecture fact, kept in ``PREFILLS`` under the config's ``model_type``; a model type not
registered takes the plain path. Each entry is proven in ``tests/rollout/test_shared_prefill.py``
(greedy completions and per-step logits equal to plain ``generate``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from mmrft.models.loading import base_model, takes_cache_argument
from mmrft.models.rows import select_prompt_rows
from mmrft.registry import Registry

Prefill = Callable[[torch.nn.Module, dict[str, Tensor], int, object | None], object]
PREFILLS: Registry[Prefill] = Registry("shared-prefill model type")

TEXT_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")
"""Per-token inputs ``generate`` still needs; everything else (pixels, grids) is in the cache."""


def _prefill(
    model: torch.nn.Module, prefix: dict[str, Tensor], group: int, cache: object | None
) -> object:
    """Forward ``prefix`` [B, P-1] with the position ids ``generate`` would give it (its own
    ``_prepare_position_ids_for_generation``: left padding counted out, 3-D mRoPE positions
    for Qwen-VL, which also stores each row's text-position offset, ``rope_deltas``) into
    ``cache`` (None: the model's default); returns the cache expanded to B * group rows."""
    kwargs = {k: v for k, v in prefix.items() if k != "input_ids"}
    positions = base_model(model)._prepare_position_ids_for_generation(prefix["input_ids"], kwargs)
    extra = {} if cache is None else {"cache": cache}
    out = model(**prefix, position_ids=positions, use_cache=True, logits_to_keep=1, **extra)
    cache = out.cache if getattr(out, "cache", None) is not None else out.past_key_values
    cache.batch_repeat_interleave(group)
    return cache


def text_prefill(
    model: torch.nn.Module, prefix: dict[str, Tensor], group: int, cache: object | None
) -> object:
    """A decoder LM with 1-D rotary positions: the cache is all the state there is."""
    return _prefill(model, prefix, group, cache)


def mrope_prefill(
    model: torch.nn.Module, prefix: dict[str, Tensor], group: int, cache: object | None
) -> object:
    """Qwen-VL (3-D mRoPE): ``generate`` adds the stored ``rope_deltas`` [B, 1] (set by the
    prefill) to its text positions of all N rows, so they are expanded with the cache."""
    cache = _prefill(model, prefix, group, cache)
    inner = base_model(model).model
    inner.rope_deltas = inner.rope_deltas.repeat_interleave(group, dim=0)  # [N, 1]
    return cache


for _name in ("qwen2", "qwen3"):
    PREFILLS.register(_name)(text_prefill)
for _name in ("qwen2_vl", "qwen2_5_vl", "qwen3_vl"):
    PREFILLS.register(_name)(mrope_prefill)


def supports_shared_prefill(model: torch.nn.Module) -> bool:
    """Is the model's architecture one whose shared prefill is proven equal to plain generate,
    on the transformers release it is proven on (``models.loading.takes_cache_argument``)?"""
    return base_model(model).config.model_type in PREFILLS and takes_cache_argument(model)


def shared_prefill(
    model: torch.nn.Module,
    inputs: dict[str, Tensor],
    group: int,
    layout: dict,
    cache: object | None = None,
) -> tuple[object, dict[str, Tensor]]:
    """Prefill each of the N / ``group`` distinct prompts of ``inputs`` once.

    inputs: processor outputs for N group-contiguous rows (input_ids/attention_mask [N, P]);
    layout: ``media_layout`` of those rows (how images sit in the vision tensors); cache: an
    empty cache to fill (``kv_cache.reserved_cache``), None for the model's default.
    Returns the KV cache of the first P - 1 tokens expanded to N rows, and the inputs to pass
    to ``generate`` with it (the per-token keys only, [N, P]).
    """
    n_rows = inputs["input_ids"].shape[0]
    firsts = list(range(0, n_rows, group))  # one row per prompt
    unique = select_prompt_rows(inputs, firsts, **layout)
    prefix = {k: v[:, :-1] if k in TEXT_KEYS else v for k, v in unique.items()}  # [B, P-1]
    cache = PREFILLS.get(base_model(model).config.model_type)(model, prefix, group, cache)
    return cache, {k: v for k, v in inputs.items() if k in TEXT_KEYS}
