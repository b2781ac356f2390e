"""The update's large linear layers through oneDNN instead of MKL, on CPUs where MKL is slow.

Design note. On a CPU the update (forward and backward of prompt + completion tokens) is ~80%
matrix multiplication, and torch's float32 path is MKL's sgemm, which picks its kernels by CPU
vendor and takes a generic path on AMD. oneDNN, shipped in torch's CPU build, JIT-compiles its
kernels for the CPU at hand. Measured on an AMD EPYC (Zen 4, one thread) at the 21M text
benchmark's update shapes (1536 token rows):

* forward ``x @ W.T``: [1536, 512] x [512, 1024] 20.2 -> 15.1 ms (MKL -> oneDNN);
* input gradient ``dY @ W``: [1536, 1024] x [1024, 512] 16.6 ms both; at [1536, 512] x
  [512, 512] 9.6 -> 8.1 ms; oneDNN reads ``W`` transposed in place (a strided view), which
  took one forward + backward of the update 3.54 -> 3.46 s against a contiguous copy of it;
* weight gradient ``dY.T @ X``: MKL wins (16.9 vs 17.9 ms, with the transposed copies oneDNN's
  linear needs), so it stays with MKL.

In the update (forward + backward, same batch, alternating in one process) that was 5-9%
faster. So for the update's duration (and the no-grad log-prob passes before it), each plain float32 CPU ``nn.Linear`` with at least
``MIN_WEIGHTS`` weights (the rollout's threshold: smaller layers gain nothing, the demo's model
has none) becomes a ``OneDnnLinear``: a class swap, undone at the end, whose forward is an
autograd function computing the forward and the input gradient with
``torch.ops.mkldnn._linear_pointwise`` (the weight as given: it changes at every step, so there
is nothing to pre-pack) and the weight and bias gradients as torch does. It saves what
``F.linear`` saves (input and weight). Calls that are not float32 on the CPU or run under
autocast take ``F.linear``. The same math, summed in another float32 order (as between any
two BLAS libraries).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from mmrft.rollout.packed_weights import eligible_linear


def _onednn_matmul(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x`` [..., in] @ ``weight``.T [in, out] -> [..., out] by oneDNN."""
    return torch.ops.mkldnn._linear_pointwise(x, weight, None, "none", [], "")


class OneDnnLinearFunction(torch.autograd.Function):
    """``F.linear`` with oneDNN for the forward and the input gradient, MKL for the weight's."""

    @staticmethod
    def forward(
        ctx: torch.autograd.function.FunctionCtx,
        x: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor | None,
    ) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        # x [..., in], weight [out, in], bias [out] -> [..., out]
        return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")

    @staticmethod
    @once_differentiable
    def backward(
        ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor
    ) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        dx = dw = db = None
        if ctx.needs_input_grad[0]:  # grad [..., out] @ weight [out, in] -> [..., in]
            # weight.t() as a strided view: oneDNN reads the transposed layout in place
            # (a contiguous copy cost ~27 ms a step for 21M weights, measured slower)
            dx = _onednn_matmul(grad, weight.t())
        if ctx.needs_input_grad[1] or (ctx.has_bias and ctx.needs_input_grad[2]):
            g2 = grad.reshape(-1, grad.shape[-1])  # [T, out]
            if ctx.needs_input_grad[1]:  # [out, T] @ [T, in] -> [out, in]
                dw = g2.t().mm(x.reshape(-1, x.shape[-1]))
            if ctx.has_bias and ctx.needs_input_grad[2]:
                db = g2.sum(0)
        return dx, dw, db


class OneDnnLinear(torch.nn.Linear):
    """An ``nn.Linear`` whose float32 CPU products go through ``OneDnnLinearFunction``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.dtype != torch.float32
            or x.device.type != "cpu"
            or self.weight.dtype != torch.float32
            or torch.is_autocast_enabled("cpu")
        ):
            return F.linear(x, self.weight, self.bias)
        return OneDnnLinearFunction.apply(x, self.weight, self.bias)


@contextmanager
def onednn_linears(model: torch.nn.Module, enabled: bool) -> Iterator[int]:
    """For the block's duration, ``model``'s large plain float32 CPU linear layers compute
    through oneDNN (``OneDnnLinear``); yields how many were switched. Undone on exit, also on
    an error, so the rollout's weight packing (which takes plain ``nn.Linear`` only) and
    checkpoints see the model as it was."""
    swapped: list[torch.nn.Module] = []
    try:
        if enabled:
            for m in model.modules():
                if eligible_linear(m):
                    m.__class__ = OneDnnLinear
                    swapped.append(m)
        yield len(swapped)
    finally:
        for m in swapped:
            m.__class__ = torch.nn.Linear
