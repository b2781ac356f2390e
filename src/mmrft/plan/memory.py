"""Per-device memory of an RL run, from a ``ModelShape`` and the run settings: pure arithmetic.

Notation: P parameters, P_t trainable ones, s the sharding factor (world size under fsdp2, else
1), b the compute dtype's bytes (4 float32, 2 bfloat16/float16), N sequences in a micro-batch,
S = prompt + completion tokens per sequence, L completion tokens, V vocabulary, H hidden size,
I MLP width, n_h heads of size d_h.

What each component holds (bytes per device):

* policy weights: full fine-tuning keeps fp32 master weights, 4 P / s (mixed precision casts
  a compute copy per layer, below). LoRA keeps the frozen base in b bytes (QLoRA: the decoder
  layers' linear weights at 0.516 bytes for nf4/fp4 with double quantization, 1 for int8) and the
  adapters in fp32.
* compute copy: with b < 4, the bf16 weights being computed with. FSDP2 all-gathers one layer at a
  time (two with prefetch) plus the root module (embedding, lm_head, vision tower); a single
  device's autocast keeps a bf16 copy of every trained weight for the backward pass. FSDP2 on
  several ranks gathers layers even in fp32; with ``reshard_after_forward: false`` every layer
  stays gathered from its forward to its backward.
* gradients 4 P_t / s (fp32, on the master weights); DDP adds its bucket copy (4 P_t).
* AdamW states 8 P_t / s; the foreach update briefly needs one more 4 P_t / s (``step`` phase).
* activations per micro-batch, saved for backward, per token per decoder layer
  (``layer_activation_bytes``): 12 H for each of the two RMSNorms (the fp32 input, the fp32
  normalised value and the cast output), 5 b n_h d_h in attention (q, k and v after GQA's
  repeat, the attention output and its reshaped copy feeding o_proj; flash/efficient attention
  keeps no S x S matrix) and 4 b I in the SwiGLU MLP (gate, silu(gate), up, their product).
  With gradient checkpointing each layer keeps only its input (4 H; the residual stream) and one
  layer is recomputed at a time, after the logits' gradients are freed: the update peaks at the
  larger of the two (``update_activation_bytes``). A trainable vision tower adds the same per patch per block.
* logits (``logits_bytes``): the log-prob pass keeps the [N, L+1, V] logits (b) and their fp32
  log-softmax (4), and backward adds two fp32 gradients of that size (4 + 4): (b + 12) N (L+1) V.
  With a 150k vocabulary this is often the largest activation of an RL update.
* no-grad log-prob passes (old, reference, critic): the logits, their fp32 scaling and
  log-softmax, (b + 8) N (L+1) V, plus one layer's working set.
* rollout: HF generate keeps the KV cache, 2 b S layers n_kv d_h per sequence, and (under FSDP2)
  the whole policy unsharded in b bytes; vLLM reserves ``vllm_gpu_memory_utilization`` of the
  device while awake (weights + KV cache) and frees it while asleep.
* reference model (KL > 0 or rl.track_kl, full fine-tuning): a frozen copy in b bytes, sharded
  like the policy. With LoRA the base under the adapters is the reference: no extra memory.
* critic (gae): ``copy`` is a second trained backbone (weights; gradients and AdamW for all but
  an untied LM head, which values never use and which is frozen; its own
  activations without the vocabulary logits); ``shared`` is a value head (H + 1 parameters).

The phases peak separately; the run fits when the largest one fits. Measured against real peaks
on a CPU in ``benchmarks/plan_vs_measured.py`` (docs/scale.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Literal

from mmrft.plan.shapes import ModelShape, ParamCounts, count_params

__all__ = [
    "GIB",
    "MemoryPlan",
    "Setup",
    "activation_bytes",
    "recompute_bytes",
    "update_activation_bytes",
    "layer_activation_bytes",
    "logits_bytes",
    "plan_memory",
]

GIB = 1024**3
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
QUANT_BYTES = {
    "nf4": 0.5 + 1 / 64 + 4 / (64 * 256),
    "fp4": 0.5 + 1 / 64 + 4 / (64 * 256),
    "int8": 1.0,
}
"""Bytes per quantized weight: 4-bit codes, an 8-bit absmax per 64 weights and an fp32 scale per
256 absmax blocks (bitsandbytes double quantization); int8 keeps one byte per weight."""
USABLE = 0.9
"""Share of device memory the plan may fill: the rest covers the CUDA context, allocator
fragmentation and kernel workspaces."""


@dataclass(frozen=True)
class Setup:
    """The run settings the planner reads (from a Config plus --gpus / --gpu-mem)."""

    gpus: int = 1
    gpu_mem_gib: float = 80.0
    strategy: Literal["fsdp2", "ddp", "none"] = "fsdp2"
    dtype: str = "bfloat16"
    lora_rank: int = 0
    quantization: str | None = None
    gradient_checkpointing: bool = False
    freeze_vision: bool = False
    prompts_per_step: int = 16
    group_size: int = 8
    mini_batches: int = 1
    prompt_tokens: int = 128  # text + image tokens per prompt
    image_patches: int = 0  # vision patches per prompt (before the merger)
    max_new_tokens: int = 16
    micro_batch_size: int | None = None  # sequences per forward/backward, per device
    logprob_micro_batch_size: int | None = None  # None: the whole rollout batch at once
    generation_batch_size: int | None = None  # sequences per HF generate call, per device
    reshard_after_forward: bool = True  # FSDP2: False keeps gathered layers until backward
    reference: bool = False
    critic: Literal["copy", "shared"] | None = None
    engine: str = "hf"
    vllm_gpu_memory_utilization: float = 0.3
    vllm_sleep: bool = True

    @property
    def b(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def shards(self) -> int:
        return self.gpus if self.strategy == "fsdp2" else 1

    @property
    def seq_len(self) -> int:
        return self.prompt_tokens + self.max_new_tokens

    @property
    def sequences_per_device(self) -> int:
        """Completions one device handles per step (whole groups, split over the ranks)."""
        return max(1, self.prompts_per_step // self.gpus) * self.group_size

    @property
    def mini_batch(self) -> int:
        """Sequences per optimizer step on one device."""
        return max(1, self.sequences_per_device // self.mini_batches)


def layer_activation_bytes(s: ModelShape, b: int) -> int:
    """Bytes saved for backward per token in one decoder layer (module docstring)."""
    norms = 2 * 12 * s.hidden
    attn = 5 * b * s.heads * s.head_dim
    mlp = 4 * b * s.intermediate
    return norms + attn + mlp


def vision_block_activation_bytes(s: ModelShape, b: int) -> int:
    """Bytes saved per patch in one vision block: norms, qkv (kept whole by the v view), rotated
    q and k, attention output and its copy, and the MLP (gated for Qwen2.5-VL)."""
    v = s.vision
    if v is None:
        return 0
    mlp = (4 if v.kind == "qwen2_5_vl" else 2) * b * v.intermediate
    return 2 * 12 * v.hidden + 7 * b * v.hidden + mlp


def activation_bytes(s: ModelShape, setup: Setup, n: int, checkpointing: bool) -> int:
    """Activations saved by the forward of ``n`` sequences for the backward pass, without logits
    (with checkpointing: the layer inputs plus ``recompute_bytes``)."""
    tokens = n * setup.seq_len
    # checkpointing: each layer keeps only its fp32 residual input
    per_layer = 4 * s.hidden if checkpointing else layer_activation_bytes(s, setup.b)
    lm = s.layers * tokens * per_layer
    lm += tokens * 12 * s.hidden + n * setup.seq_len**2  # final norm; the bool attention mask
    vision = 0
    if _vision_trains(s, setup):
        patches = n * setup.image_patches
        block = vision_block_activation_bytes(s, setup.b)
        vision = patches * s.vision.depth * (4 * s.vision.hidden if checkpointing else block)
    return lm + vision + (recompute_bytes(s, setup, n) if checkpointing else 0)


def _vision_trains(s: ModelShape, setup: Setup) -> bool:
    return s.vision is not None and not setup.freeze_vision and setup.lora_rank == 0


def recompute_bytes(s: ModelShape, setup: Setup, n: int) -> int:
    """With checkpointing, the one layer (or vision block) whose activations backward recomputes
    at a time."""
    layer = n * setup.seq_len * layer_activation_bytes(s, setup.b)
    block = n * setup.image_patches * vision_block_activation_bytes(s, setup.b)
    return max(layer, block if _vision_trains(s, setup) else 0)


def update_activation_bytes(s: ModelShape, setup: Setup, n: int, checkpointing: bool) -> int:
    """Activations + logits at the update's peak. Without checkpointing every activation is
    alive when backward starts at the logits. With it, the logits' gradients are gone before the
    first layer is recomputed, so only the larger of the two counts."""
    logits = logits_bytes(s, setup, n, grad=True)
    acts = activation_bytes(s, setup, n, checkpointing)
    if not checkpointing:
        return acts + logits
    recompute = recompute_bytes(s, setup, n)
    return acts - recompute + max(recompute, logits)


def logits_bytes(s: ModelShape, setup: Setup, n: int, grad: bool) -> int:
    """Peak bytes of the vocabulary logits of one pass over ``n`` sequences (module docstring)."""
    per_entry = setup.b + (12 if grad else 8)
    return n * (setup.max_new_tokens + 1) * s.vocab * per_entry


def _nograd_working_set(s: ModelShape, setup: Setup, n: int) -> int:
    """One layer's transient tensors in a no-grad forward (hidden states, q/k/v, MLP)."""
    return n * setup.seq_len * setup.b * (4 * s.hidden + 3 * s.intermediate)


@dataclass
class MemoryPlan:
    """Per-device bytes by component and by phase, and what fits."""

    params: dict[str, int]
    components: dict[str, int]
    phases: dict[str, int]
    micro_batch: int
    logprob_micro_batch: int
    budget: int
    suggest: dict[str, int | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def peak(self) -> int:
        return max(self.phases.values())

    @property
    def fits(self) -> bool:
        return self.peak <= self.budget

    def to_dict(self) -> dict:
        return {**asdict(self), "peak": self.peak, "fits": self.fits}


def _trainable(c: ParamCounts, setup: Setup) -> int:
    if setup.lora_rank > 0:
        return setup.lora_rank * c.lora_per_rank
    return c.total - (c.vision if setup.freeze_vision else 0)


def _weight_bytes(c: ParamCounts, setup: Setup) -> float:
    """Stored policy weights on one device (before sharding)."""
    if setup.lora_rank == 0:
        return 4 * c.total  # fp32 master weights (mixed precision) or plain fp32
    base = setup.b * c.total
    if setup.quantization:
        base -= (setup.b - QUANT_BYTES[setup.quantization]) * c.lm_linear
    return base + 4 * setup.lora_rank * c.lora_per_rank


def _compute_copy(s: ModelShape, c: ParamCounts, setup: Setup) -> int:
    """Unsharded/cast weights alive while computing (module docstring)."""
    if setup.lora_rank > 0:
        return 0  # the frozen base is already stored in the compute dtype
    if setup.strategy == "fsdp2" and (setup.gpus > 1 or setup.b < 4):
        root = c.embed + c.lm_head + c.vision  # not wrapped per layer: gathered for the pass
        layers = 2 * c.layer if setup.reshard_after_forward else s.layers * c.layer
        return setup.b * (root + layers)
    return setup.b * _trainable(c, setup) if setup.b < 4 else 0


def _largest(fits, limit: int) -> int | None:
    """Largest n in 1..limit with fits(n), assuming memory grows with n (bisection)."""
    if not fits(1):
        return None
    lo, hi = 1, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def plan_memory(s: ModelShape, setup: Setup) -> MemoryPlan:
    """Per-device memory of one RL step under ``setup`` (module docstring has the formulas)."""
    c = count_params(s)
    sh, b = setup.shards, setup.b
    p_t = _trainable(c, setup)
    mb = min(setup.micro_batch_size or setup.mini_batch, setup.mini_batch)
    lp_mb = min(
        setup.logprob_micro_batch_size or setup.sequences_per_device, setup.sequences_per_device
    )
    comp: dict[str, int] = {}
    comp["policy weights"] = int(_weight_bytes(c, setup) / sh)
    comp["gradients"] = 4 * p_t // sh + (4 * p_t if setup.strategy == "ddp" else 0)
    comp["optimizer states"] = 8 * p_t // sh
    comp["compute copy"] = _compute_copy(s, c, setup)
    comp["activations (no ckpt)"] = activation_bytes(s, setup, mb, False)
    comp["activations (ckpt)"] = activation_bytes(s, setup, mb, True)
    comp["logits (update)"] = logits_bytes(s, setup, mb, grad=True)
    comp["log-prob pass"] = logits_bytes(s, setup, lp_mb, grad=False) + _nograd_working_set(
        s, setup, lp_mb
    )
    gen_seqs = min(
        setup.generation_batch_size or setup.sequences_per_device, setup.sequences_per_device
    )
    kv = gen_seqs * setup.seq_len * 2 * s.layers * s.kv_heads * s.head_dim * b
    if setup.engine == "vllm":
        comp["rollout engine"] = int(setup.vllm_gpu_memory_utilization * setup.gpu_mem_gib * GIB)
    else:  # HF generate on the (unsharded) policy with its KV cache
        full = b * c.total if (sh > 1 or b < 4) and setup.lora_rank == 0 else 0
        comp["rollout engine"] = kv + full
    needs_ref = setup.reference and setup.lora_rank == 0
    comp["reference model"] = b * c.total // sh if needs_ref else 0
    critic_static = critic_update = 0
    if setup.critic == "copy":  # its untied LM head is frozen: weights only, no grads/AdamW
        critic_static = (4 * c.total + 12 * (c.total - c.lm_head)) // sh
        critic_update = 4 * (c.total - c.lm_head) // sh + activation_bytes(
            s, setup, mb, setup.gradient_checkpointing
        )
    elif setup.critic == "shared":
        critic_static = 16 * (s.hidden + 1)
    comp["critic"] = critic_static

    resident = comp["policy weights"] + comp["optimizer states"] + comp["reference model"]
    resident += critic_static
    vllm_awake = setup.engine == "vllm" and not setup.vllm_sleep
    if vllm_awake:
        resident += comp["rollout engine"]
    ckpt = setup.gradient_checkpointing
    acts = update_activation_bytes(s, setup, mb, ckpt)
    phases = {
        "rollout": resident + (0 if vllm_awake else comp["rollout engine"]),
        "log-prob": resident + comp["compute copy"] + comp["log-prob pass"],
        "update": resident + comp["gradients"] + comp["compute copy"] + acts,
        "optimizer step": resident + comp["gradients"] + 4 * p_t // sh,
    }  # fmt: skip
    if critic_update:
        phases["critic update"] = resident + critic_update
    budget = int(USABLE * setup.gpu_mem_gib * GIB)
    base_update = phases["update"] - acts

    def update_fits(ck: bool):
        return lambda n: base_update + update_activation_bytes(s, setup, n, ck) <= budget

    lp_base = phases["log-prob"] - comp["log-prob pass"]
    suggest = {
        "micro_batch_size": _largest(update_fits(False), setup.mini_batch),
        "micro_batch_size (ckpt)": _largest(update_fits(True), setup.mini_batch),
        "logprob_micro_batch_size": _largest(
            lambda n: (
                lp_base + logits_bytes(s, setup, n, False) + _nograd_working_set(s, setup, n)
                <= budget
            ),
            setup.sequences_per_device,
        ),
    }
    notes = []
    if setup.prompts_per_step % setup.gpus:
        notes.append(
            f"rollout.prompts_per_step={setup.prompts_per_step} is not divisible by "
            f"--gpus {setup.gpus}"
        )
    params = {"total": c.total, "language": c.language, "vision": c.vision, "trainable": p_t}
    return MemoryPlan(params, comp, phases, mb, lp_mb, budget, suggest, notes)


def with_micro_batch(setup: Setup, n: int) -> Setup:
    """``setup`` with ``micro_batch_size`` set to ``n`` (for sweeps)."""
    return replace(setup, micro_batch_size=n)
