"""A KV cache that writes each decoding step in place instead of re-concatenating.

transformers' ``DynamicLayer`` grows by ``torch.cat([keys, new], -2)``: every decoding step
copies the whole cache of every layer, so a rollout of L tokens moves O(L^2) cache entries (on
a 2-core CPU, a fifth of ``generate``'s time for the benchmark's 21M text model). A
``ReservedLayer`` allocates room for the prompt plus ``extra`` tokens at its first write and
then only writes the new entries; ``keys`` / ``values`` are views of the filled part, so the
attention sees the same tensors (same values, same shapes) as with a dynamic layer.

Under autocast (``model.dtype: bfloat16``) the residual stream stays float32, so Qwen's RoPE
hands the cache float32 keys (values come out of the bf16 projection), and the attention, an
autocast op (SDPA, or eager's matmuls), casts the whole key cache to bf16 again at every
decoding step. Casting is elementwise, so storing the keys (and values) already in the
autocast dtype gives the attention the very tensors it would have cast to: the same results,
half the key cache's memory, and no per-step cast (bf16 text rollout on an AMD EPYC 1.57 ->
1.45 s). Only where the model's attention is one of those autocast ops (``CAST_SAFE``).

Notation: N rows, H key/value heads, S cached positions, D head width.
"""

from __future__ import annotations

import torch
from torch import Tensor
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from mmrft.models.loading import base_model
from mmrft.rollout.decode_attention import NAME as DECODE_ATTENTION

# Attention implementations that run as autocast ops, so they read the cache in the autocast
# dtype whatever it holds: storing it in that dtype changes nothing they compute.
# mmrft's decode attention is safe too: it reads a bf16 cache as autocast's SDPA would see it
# and hands every call it does not compute (a float32 cache under autocast among them) to SDPA.
CAST_SAFE = ("sdpa", "eager", DECODE_ATTENTION)


class ReservedLayer(DynamicLayer):
    """A full-attention cache layer over one buffer [N, H, S_max, D] reserved at the first write
    (its length plus ``extra``), grown by doubling if a caller writes past it."""

    def __init__(self, extra: int, store_autocast_dtype: bool = False) -> None:
        super().__init__()
        self.extra = extra
        self.store_autocast_dtype = store_autocast_dtype  # see the module's note
        self.length = 0  # positions filled
        self.buf_k: Tensor | None = None  # [N, H, S_max, D]
        self.buf_v: Tensor | None = None

    def update(self, key_states: Tensor, value_states: Tensor, *args, **kwargs) -> tuple:
        """Write key/value states [N, H, q, D] after the filled part; return views [N, H, S, D]."""
        q = key_states.shape[-2]
        if self.store_autocast_dtype and torch.is_autocast_enabled(key_states.device.type):
            dtype = torch.get_autocast_dtype(key_states.device.type)
            key_states, value_states = key_states.to(dtype), value_states.to(dtype)
        if not self.is_initialized:
            self.device = key_states.device
            self.is_initialized = True
            self._reserve(key_states, value_states, q + self.extra)
        elif self.length + q > self.buf_k.shape[-2]:
            self._reserve(key_states, value_states, 2 * (self.length + q))
        self.buf_k[:, :, self.length : self.length + q] = key_states
        self.buf_v[:, :, self.length : self.length + q] = value_states
        self.length += q
        self._view()
        return self.keys, self.values

    def _reserve(self, key_states: Tensor, value_states: Tensor, size: int) -> None:
        old_k, old_v = self.buf_k, self.buf_v
        n, h = key_states.shape[:2]
        self.buf_k = key_states.new_empty((n, h, size, key_states.shape[-1]))
        self.buf_v = value_states.new_empty((n, h, size, value_states.shape[-1]))
        if old_k is not None:  # carry the filled part over
            self.buf_k[:, :, : self.length] = old_k[:, :, : self.length]
            self.buf_v[:, :, : self.length] = old_v[:, :, : self.length]

    def _view(self) -> None:
        self.keys = self.buf_k[:, :, : self.length]  # [N, H, S, D], a view: no copy
        self.values = self.buf_v[:, :, : self.length]

    def get_seq_length(self) -> int:
        return self.length

    def batch_repeat_interleave(self, repeats: int) -> None:
        """Each row ``repeats`` times, in place of its one copy (a shared prompt's G rows)."""
        if self.length > 0:
            self.buf_k = self.buf_k.repeat_interleave(repeats, dim=0)
            self.buf_v = self.buf_v.repeat_interleave(repeats, dim=0)
            self._view()

    def reset(self) -> None:
        self.buf_k = self.buf_v = None
        self.length = 0
        super().reset()

    def crop(self, tokens_to_remove: int) -> None:  # assisted decoding only; not used here
        raise NotImplementedError("ReservedLayer does not crop")

    def batch_select_indices(self, indices: Tensor) -> None:  # beam search only
        raise NotImplementedError("ReservedLayer does not select rows")


def reserved_cache(model: torch.nn.Module, extra: int) -> DynamicCache | None:
    """An empty cache for ``model`` whose layers reserve room for ``extra`` tokens beyond what
    their first write holds; None where the model has other than full-attention layers
    (sliding windows, linear attention), which keep transformers' own cache.

    Only for a model whose forward takes ``cache=`` (the transformers release it is proven on;
    ``models.loading.takes_cache_argument``): the caller checks that once per model
    (``HFSampler``), not per rollout chunk."""
    config = base_model(model).config
    cache = DynamicCache(config=config)
    if not cache.layers or any(type(layer) is not DynamicLayer for layer in cache.layers):
        return None
    cast = _attn_implementation(config) in CAST_SAFE
    cache.layers = [ReservedLayer(extra, cast) for _ in cache.layers]
    return cache


def _attn_implementation(config: object) -> str | None:
    """The attention implementation of the decoder (a VLM's text config, else the config)."""
    text = getattr(config, "get_text_config", lambda: config)()
    return getattr(text, "_attn_implementation", None)
