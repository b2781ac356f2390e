"""Linear weights packed once per rollout for oneDNN, on CPUs where MKL's sgemm is slow.

Design note. A decoding step multiplies a few dozen rows by every weight of the model, so the
step streams all weights and, in torch's default float32 CPU path (MKL's sgemm), repacks each
into the kernel's panel layout on every call. MKL also picks its kernels by CPU vendor and takes
a generic path on AMD. Measured on an AMD EPYC (Zen 4, AVX-512, one thread), a rollout of the
21M text benchmark model (32 rows x 48 tokens) spent 1.2 of its 2.1 s in such matmuls;
``[32, 512] x [512, 1024]`` took 685 us in the loop (557 us cycling through 40 weights alone).
oneDNN (shipped in torch's CPU build, kernels JIT-compiled for the CPU at hand) with the
weight reordered once into its blocked layout (``torch.ops.mkldnn._reorder_linear_weight``)
took 400 us in the loop; the rollout went from 2.0-2.3 s to 1.66 s. Within a rollout the
weights do not change, so one reorder (~70 ms for 21M weights) serves every decoding step;
it is redone at each rollout because the update changes the weights in between.

oneDNN costs ~12 us more per call, so small layers lose: ``[32, 128] x [128, 256]`` 27 -> 36
us, ``[32, 256] x [256, 512]`` 100 -> 96 us. Only weights of at least ``MIN_WEIGHTS``
elements are packed, which leaves the demo's tiny model (largest weight 512 x 128) as it was.

Under bf16 autocast (``model.dtype: bfloat16``) the rollout's products run in bf16 and
autocast's linear casts each weight (once per rollout, ``hf.weights_cast_once``) but not into
oneDNN's layout: ``[32, 512] x [512, 1024]`` cycling through 40 weights took 277 us that way
and 194 us with the bf16 weight packed (float32 packed: 362 us). So under bf16 autocast the
weights are packed cast to bf16 (where oneDNN has bf16 kernels for the CPU), the input cast as
autocast would, and the product comes out in bf16 as autocast's does.

The switch is a class swap for the rollout's duration (``PackedLinear`` is an ``nn.Linear``, so
parameters, hooks and LoRA wrappers are untouched) and is undone at its end. A call that is not
on the CPU in the packed dtype (bf16: under bf16 autocast), or records a graph, takes
``F.linear`` as before. The math is the same matmul; oneDNN sums in another order, so
completions can differ from MKL's at float32 (bf16) rounding, as between any two BLAS
libraries.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F

MIN_WEIGHTS = 2**17  # 256 x 512: where oneDNN's packed kernel starts to win (see above)

MODES = ("auto", "always", "never")
FLOATS = (torch.float32, torch.bfloat16)


class PackedLinear(torch.nn.Linear):
    """An ``nn.Linear`` that also holds ``packed``, its weight in oneDNN's layout, in float32
    or, under bf16 autocast, cast to bf16 (``packed_bias`` likewise)."""

    packed: torch.Tensor
    packed_bias: torch.Tensor | None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        autocast = torch.is_autocast_enabled("cpu")
        # the dtype this call multiplies in: autocast's, else the input's. A float32 packing
        # serves plain float32 calls, a bf16 one calls under bf16 autocast; the rest, and calls
        # that record a graph (the update's), take F.linear with the live weights.
        compute = torch.get_autocast_dtype("cpu") if autocast else x.dtype
        if (
            x.device.type != "cpu"
            or x.dtype not in FLOATS
            or compute != self.packed.dtype
            or (compute != torch.float32) != autocast
            or (torch.is_grad_enabled() and (x.requires_grad or self.weight.requires_grad))
        ):
            return F.linear(x, self.weight, self.bias)
        # x [..., in] @ weight.T [in, out] + bias -> [..., out], in the compute dtype
        return torch.ops.mkldnn._linear_pointwise(
            x.to(compute), self.packed, self.packed_bias, "none", [], ""
        )


@functools.cache  # asked at every update step; the CPU does not change
def cpu_vendor() -> str:
    """The CPU's vendor id (``GenuineIntel``, ``AuthenticAMD``, ...); "" where unknown."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("vendor_id"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def eligible_linear(m: torch.nn.Module) -> bool:
    """A plain float32 CPU ``nn.Linear`` (not a quantized or sharded one) that is large enough."""
    if type(m) is not torch.nn.Linear:
        return False
    w = m.weight
    return (
        type(w.data) is torch.Tensor  # not a DTensor shard (FSDP2)
        and w.device.type == "cpu"
        and w.dtype == torch.float32
        and w.numel() >= MIN_WEIGHTS
    )


def onednn_enabled(mode: str, key: str = "rollout.onednn_weights") -> bool:
    """Whether a oneDNN switch (``key``: ``rollout.onednn_weights``, ``rl.onednn_matmul``) is on
    here: always, never, or auto = on a CPU that is not Intel's (where it was measured faster)
    in a torch built with oneDNN."""
    if mode not in MODES:
        raise ValueError(f"{key} must be one of {MODES}, got {mode!r}")
    if mode == "never" or not torch.backends.mkldnn.is_available():
        return False
    return mode == "always" or cpu_vendor() not in ("", "GenuineIntel")


def packing_dtype() -> torch.dtype | None:
    """The dtype to pack in for the calls about to run: float32 outside autocast, bf16 under
    CPU bf16 autocast where oneDNN has bf16 kernels for this CPU, else None (no packing)."""
    if not torch.is_autocast_enabled("cpu"):
        return torch.float32
    bf16 = torch.get_autocast_dtype("cpu") == torch.bfloat16
    return torch.bfloat16 if bf16 and torch.ops.mkldnn._is_mkldnn_bf16_supported() else None


@contextmanager
def packed_weights(
    model: torch.nn.Module, enabled: bool, rows: int = 32, dtype: torch.dtype = torch.float32
) -> Iterator[int]:
    """For the block's duration, ``model``'s large float32 CPU linear layers compute with their
    weights packed for oneDNN (``rows``: the batch size the layout is tuned for), cast to
    ``dtype`` (bf16: for calls under bf16 autocast); yields how many layers were packed.
    Weights changed inside the block would not be seen: a rollout does not change them."""
    packed: list[torch.nn.Module] = []
    try:
        if enabled:
            with torch.no_grad(), torch.autocast("cpu", enabled=False):
                for m in model.modules():
                    if eligible_linear(m):
                        w = m.weight.detach().to(dtype)
                        m.packed = torch.ops.mkldnn._reorder_linear_weight(w, rows)
                        m.packed_bias = None if m.bias is None else m.bias.detach().to(dtype)
                        m.__class__ = PackedLinear
                        packed.append(m)
        yield len(packed)
    finally:
        for m in packed:
            m.__class__ = torch.nn.Linear
            del m.packed, m.packed_bias
