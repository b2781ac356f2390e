"""Model shapes and parameter counts from a ``config.json`` alone: no weights, no torch.

A ``ModelShape`` holds the few numbers the memory formulas need (hidden size, layers, heads,
vocabulary, the vision tower's width and depth); ``count_params`` turns it into parameter counts
per part. The counts follow the transformers module definitions of each family exactly (tests
compare them with ``sum(p.numel())`` of models built from the same configs):

* language model (Qwen2 / Qwen2.5-VL / Qwen2-VL text, Qwen3 / Qwen3-VL text, Llama-like):
  embedding V*H; per layer q, k, v, o projections (+ q/k/v biases for Qwen2, per-head q/k
  RMSNorms for Qwen3), a SwiGLU MLP 3*H*I, two RMSNorms; a final norm; lm_head V*H unless tied.
* vision tower: patch embedding (Conv3d), ``depth`` blocks (two norms, qkv + proj, an MLP that
  is gated for Qwen2.5-VL and plain for Qwen2-VL/Qwen3-VL) and the patch merger (norm + two
  linears over merge^2 concatenated patches); Qwen3-VL adds learned position embeddings and one
  "deepstack" merger per ``deepstack_visual_indexes`` entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ASSETS",
    "ModelShape",
    "ParamCounts",
    "VisionShape",
    "count_params",
    "load_model_config",
    "shape_from_config",
]

ASSETS = Path(__file__).resolve().parent.parent / "assets"
"""Published config.json files shipped with the package (architecture values only)."""

_BUILTIN_CONFIGS = {
    "Qwen/Qwen2.5-VL-3B-Instruct": ASSETS / "qwen2_5_vl_3b_config.json",
    "Qwen/Qwen2.5-VL-7B-Instruct": ASSETS / "qwen2_5_vl_7b_config.json",
}


@dataclass(frozen=True)
class VisionShape:
    """The vision tower: ``kind`` is the family (qwen2_5_vl, qwen2_vl, qwen3_vl)."""

    kind: str
    hidden: int  # D: width of the vision blocks
    intermediate: int  # MLP width
    depth: int
    out_hidden: int  # width the merger projects to (the language model's hidden size)
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    in_channels: int = 3
    num_position_embeddings: int = 0  # Qwen3-VL's learned position table
    deepstack_mergers: int = 0  # Qwen3-VL: extra mergers feeding early LM layers


@dataclass(frozen=True)
class ModelShape:
    """What the memory formulas need from a model's config.json."""

    model_type: str
    vocab: int  # V
    hidden: int  # H
    intermediate: int  # I (SwiGLU width)
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    tied: bool  # lm_head shares the embedding matrix
    qkv_bias: bool
    qk_norm: bool  # Qwen3: RMSNorm over each head's q and k
    vision: VisionShape | None = None

    @property
    def image_token_pixels(self) -> int:
        """Pixels per image token after merging (28*28 for Qwen2/2.5-VL, 32*32 for Qwen3-VL)."""
        v = self.vision
        return (v.patch_size * v.merge_size) ** 2 if v else 0


@dataclass(frozen=True)
class ParamCounts:
    """Parameter counts by part; ``lm_linear`` is the decoder layers' projection weights
    (what LoRA adapts and QLoRA quantizes)."""

    embed: int
    lm_head: int  # 0 when tied
    layer: int  # one decoder layer
    lm_layers: int  # all decoder layers + final norm
    lm_linear: int
    vision: int
    lora_per_rank: int  # LoRA params per unit rank on q,k,v,o,gate,up,down of every layer

    @property
    def language(self) -> int:
        return self.embed + self.lm_head + self.lm_layers

    @property
    def total(self) -> int:
        return self.language + self.vision


def _get(d: dict[str, Any], *keys: str, default: Any = None) -> Any:
    for key in keys:
        if d.get(key) is not None:
            return d[key]
    return default


def load_model_config(name_or_path: str) -> dict[str, Any]:
    """The config.json dict of a model, offline: a directory, a config.json path, a name shipped in
    ``mmrft/assets``, a hub name already in the local Hugging Face cache, or a builtin tiny model
    (built from its config in about a second). Never downloads."""
    path = Path(name_or_path)
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        return json.loads(path.read_text())
    if name_or_path in _BUILTIN_CONFIGS:
        return json.loads(_BUILTIN_CONFIGS[name_or_path].read_text())
    from mmrft.models.tiny import TINY_MODELS  # imports torch; only for builtin names

    if name_or_path in TINY_MODELS.names():
        model, _ = TINY_MODELS.get(name_or_path)()
        return model.config.to_dict()
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name_or_path, "config.json")
    except Exception:  # an invalid repo id is just "not cached"
        cached = None
    if isinstance(cached, str):
        return json.loads(Path(cached).read_text())
    known = sorted(_BUILTIN_CONFIGS)
    raise FileNotFoundError(
        f"model.name_or_path {name_or_path!r}: no config.json found offline (not a directory, a "
        f"file, a builtin tiny model, a shipped config {known} or a hub name in the local cache)"
    )


def _vision_shape(model_type: str, v: dict[str, Any], text_hidden: int) -> VisionShape:
    merge = _get(v, "spatial_merge_size", default=2)
    tps = _get(v, "temporal_patch_size", default=2)
    chans = _get(v, "in_chans", "in_channels", default=3)
    if model_type == "qwen2_vl":  # embed_dim/mlp_ratio naming; hidden_size is the output width
        d = _get(v, "embed_dim", default=1280)
        return VisionShape(
            "qwen2_vl", d, int(d * _get(v, "mlp_ratio", default=4)), v["depth"],
            _get(v, "hidden_size", default=text_hidden), _get(v, "patch_size", default=14),
            merge, tps, chans,
        )  # fmt: skip
    out = _get(v, "out_hidden_size", default=text_hidden)
    if model_type.startswith("qwen3_vl"):
        return VisionShape(
            "qwen3_vl", v["hidden_size"], v["intermediate_size"], v["depth"], out,
            _get(v, "patch_size", default=16), merge, tps, chans,
            num_position_embeddings=_get(v, "num_position_embeddings", default=2304),
            deepstack_mergers=len(_get(v, "deepstack_visual_indexes", default=[])),
        )  # fmt: skip
    return VisionShape(
        "qwen2_5_vl", v["hidden_size"], v["intermediate_size"], v["depth"], out,
        _get(v, "patch_size", default=14), merge, tps, chans,
    )  # fmt: skip


def shape_from_config(cfg: dict[str, Any]) -> ModelShape:
    """``ModelShape`` of a config.json dict: nested (``text_config``) or flat (Qwen2.5-VL's
    published files keep the text keys at the top level), VL or text-only."""
    model_type = cfg.get("model_type", "")
    text = {**cfg, **(cfg.get("text_config") or {})}
    h = text["hidden_size"]
    heads = text["num_attention_heads"]
    head_dim = _get(text, "head_dim", default=h // heads)
    qwen3 = model_type.startswith("qwen3")
    # Qwen2-family decoders always carry q/k/v biases; others say so with attention_bias.
    qkv_bias = model_type.startswith("qwen2") or bool(text.get("attention_bias", False))
    tied = bool(_get(cfg, "tie_word_embeddings", default=text.get("tie_word_embeddings", False)))
    vision_cfg = cfg.get("vision_config")
    return ModelShape(
        model_type=model_type,
        vocab=text["vocab_size"],
        hidden=h,
        intermediate=text["intermediate_size"],
        layers=text["num_hidden_layers"],
        heads=heads,
        kv_heads=_get(text, "num_key_value_heads", default=heads),
        head_dim=head_dim,
        tied=tied,
        qkv_bias=qkv_bias,
        qk_norm=qwen3,
        vision=_vision_shape(model_type, vision_cfg, h) if vision_cfg else None,
    )


def _vision_params(v: VisionShape) -> int:
    d, i = v.hidden, v.intermediate
    patch = v.in_channels * v.temporal_patch_size * v.patch_size**2 * d
    if v.kind == "qwen3_vl":
        patch += d  # Conv3d bias
    attn = d * 3 * d + 3 * d + d * d + d  # qkv + proj, both with bias
    if v.kind == "qwen2_5_vl":
        norms, mlp = 2 * d, 2 * (d * i + i) + i * d + d  # RMSNorms; gated MLP with biases
    else:
        norms, mlp = 4 * d, d * i + i + i * d + d  # LayerNorms (weight + bias); fc1/fc2
    m = d * v.merge_size**2  # merger input: merge^2 patches concatenated
    merger_linears = m * m + m + m * v.out_hidden + v.out_hidden
    ln_q = 2 * d if v.kind != "qwen2_5_vl" else d
    total = patch + v.depth * (norms + attn + mlp) + ln_q + merger_linears
    if v.kind == "qwen3_vl":  # position table + deepstack mergers (post-shuffle LayerNorm over m)
        total += v.num_position_embeddings * d + v.deepstack_mergers * (2 * m + merger_linears)
    return total


def count_params(s: ModelShape) -> ParamCounts:
    """Parameter counts by part (see the module docstring for the formulas)."""
    h, q, kv = s.hidden, s.heads * s.head_dim, s.kv_heads * s.head_dim
    attn_linear = h * q + 2 * h * kv + q * h
    mlp_linear = 3 * h * s.intermediate
    layer = attn_linear + mlp_linear + 2 * h  # + input/post-attention RMSNorms
    if s.qkv_bias:
        layer += q + 2 * kv
    if s.qk_norm:
        layer += 2 * s.head_dim
    # LoRA on a d_in x d_out linear adds A (r x d_in) and B (d_out x r).
    lora = (h + q) + 2 * (h + kv) + (q + h) + 2 * (h + s.intermediate) + (s.intermediate + h)
    return ParamCounts(
        embed=s.vocab * h,
        lm_head=0 if s.tied else s.vocab * h,
        layer=layer,
        lm_layers=s.layers * layer + h,
        lm_linear=s.layers * (attn_linear + mlp_linear),
        vision=_vision_params(s.vision) if s.vision else 0,
        lora_per_rank=s.layers * lora,
    )
