"""Shared-prompt forward: the rows of a GRPO group share their prompt, so forward it once.

In the update (and the no-grad log-prob passes) a group's G rows repeat one prompt, and the
plain forward (``logprobs.completion_forward``) computes its P tokens G times, with gradients.
Here each distinct prompt's P tokens are forwarded once into a KV cache; that pass also gives
the logits at the last prompt token, which predict every row's first completion token. The
cache and those logits are gathered to the n rows (indexing ops, so autograd sums the rows'
gradients back into the one prompt pass), and each row forwards its completion but the last
token (whose logits would predict nothing), attending to the cache. So a row forwards L - 1
tokens where the plain forward takes P + L. (One-token completions: the prompt pass stops a
token short and the rows forward the last prompt token.) For a VLM the vision encoder runs
once per prompt too.

Notation: n rows, U distinct prompts, P prompt length (left padded), L completion length.

Exact, not an approximation: causal attention means a prompt token never sees the completion,
so its keys and values are the same in every row. What must also match are the position ids,
and the plain forward lets the model choose them; so each architecture's rule is registered in
``POSITIONS`` (under the config's ``model_type``) and computed over the whole prompt+completion
sequence, as the plain forward would, then sliced. A model type not registered takes the plain
forward. Each entry is proven in ``tests/models/test_shared_prompt.py`` (log-probs and
gradients equal the plain forward's).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable

import torch
from torch import Tensor

from mmrft.models.loading import base_model, takes_cache_argument
from mmrft.models.logprobs import concat_prompt_completion
from mmrft.registry import Registry

Positions = Callable[[torch.nn.Module, dict[str, Tensor]], Tensor]
POSITIONS: Registry[Positions] = Registry("shared-prompt model type")

TEXT_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "token_type_ids")
"""Per-token inputs (sliced to the prompt pass's part); the rest (pixels, grids) describe it."""


def text_positions(model: torch.nn.Module, inputs: dict[str, Tensor]) -> Tensor:
    """[n, S]: a 1-D rotary decoder given no position ids counts every slot, padding too."""
    ids = inputs["input_ids"]  # [n, S]
    return torch.arange(ids.shape[1], device=ids.device).expand_as(ids)


def mrope_positions(model: torch.nn.Module, inputs: dict[str, Tensor]) -> Tensor:
    """[3, n, S]: Qwen-VL's 3-D mRoPE positions, by the model's own rule for a cache-less
    forward (``compute_3d_position_ids``); a batch without images falls back to 1-D."""
    inner = base_model(model).model
    kwargs = {k: inputs.get(k) for k in _position_inputs(type(inner))}  # absent: None
    positions = inner.compute_3d_position_ids(
        input_ids=inputs["input_ids"], inputs_embeds=None, cache=None, **kwargs
    )
    if positions is None:  # no image in these rows: the text model's own 1-D count
        return text_positions(model, inputs)
    return positions


@functools.cache
def _position_inputs(cls: type) -> tuple[str, ...]:
    """The processor inputs ``cls.compute_3d_position_ids`` reads (its signature differs across
    Qwen-VL versions), looked up once per class."""
    own = ("self", "input_ids", "inputs_embeds", "cache")
    return tuple(
        k for k in inspect.signature(cls.compute_3d_position_ids).parameters if k not in own
    )


for _name in ("qwen2", "qwen3"):
    POSITIONS.register(_name)(text_positions)
for _name in ("qwen2_vl", "qwen2_5_vl", "qwen3_vl"):
    POSITIONS.register(_name)(mrope_positions)


def supports_shared_prompt(model: torch.nn.Module) -> bool:
    """Is the shared-prompt forward proven for this model, and usable right now? Gradient
    checkpointing drops the KV cache whenever gradients are on, so it takes the plain path."""
    base = base_model(model)
    if torch.is_grad_enabled() and _checkpointing(base):
        return False
    return base.config.model_type in POSITIONS and takes_cache_argument(model)


def _checkpointing(model: torch.nn.Module) -> bool:
    """transformers 5.25 renamed ``is_gradient_checkpointing`` (deprecated) to this."""
    name = "is_activation_checkpointing"
    return getattr(model, name if hasattr(model, name) else "is_gradient_checkpointing", False)


def shared_prompt_forward(
    model: torch.nn.Module,
    prompt_inputs: dict[str, Tensor],
    unique_inputs: dict[str, Tensor],
    row_prompt: list[int],
    completion_ids: Tensor,
    completion_mask: Tensor,
    *,
    hidden: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Logits [n, L, V] predicting each completion token, and (``hidden``) the final hidden
    states [n, L, H] — the same as ``logprobs.completion_forward`` on ``prompt_inputs``.

    prompt_inputs: the n rows' processor outputs (input_ids/attention_mask [n, P]), used for
    the positions and the attention mask; unique_inputs: the U distinct prompts' ([U, P],
    their own vision tensors), numbered in order of first use: row r's prompt is unique row
    ``row_prompt[r]``.
    """
    P, L = prompt_inputs["input_ids"].shape[1], completion_ids.shape[1]
    full = concat_prompt_completion(prompt_inputs, completion_ids, completion_mask)
    positions = POSITIONS.get(base_model(model).config.model_type)(model, full)  # [..., n, P+L]
    device = completion_ids.device
    first_row: dict[int, int] = {}
    for r, u in enumerate(row_prompt):
        first_row.setdefault(u, r)
    firsts = torch.tensor([first_row[u] for u in range(len(first_row))], device=device)
    rows = torch.tensor(row_prompt, device=device)

    # The prompt pass takes the whole prompt and gives the logits (state) at its last token
    # [U, 1, ...]; with one-token completions it stops a token short instead, so that the rows
    # still forward something: two model calls either way, as FSDP2 ranks must make alike.
    cut = P if L > 1 else P - 1
    prefix = {k: v[:, :cut] if k in TEXT_KEYS else v for k, v in unique_inputs.items()}
    out = model(
        **prefix,
        position_ids=positions.index_select(-2, firsts)[..., :cut],
        use_cache=True,
        logits_to_keep=1,
        output_hidden_states=hidden,
    )
    logits, states = [], []
    if cut == P:  # predicts every row's completion token 0
        logits.append(out.logits[:, -1:].index_select(0, rows))  # [n, 1, V]
        states += [out.hidden_states[-1][:, -1:].index_select(0, rows)] if hidden else []
    cache = out.cache
    # [U, ...] -> [n, ...]: a gather, so the rows' gradients sum back into the prompt pass
    cache.batch_select_indices(rows)
    out = model(
        input_ids=full["input_ids"][:, cut : P + L - 1],  # the completion but its last token
        attention_mask=full["attention_mask"][:, : P + L - 1],  # the cache's slots, then ids'
        position_ids=positions[..., cut : P + L - 1],
        cache=cache,
        use_cache=True,
        output_hidden_states=hidden,
    )
    logits.append(out.logits)
    states += [out.hidden_states[-1]] if hidden else []
    # [n, L, V]: position t predicts completion token t; states [n, L, H]
    return torch.cat(logits, 1), torch.cat(states, 1) if hidden else None
