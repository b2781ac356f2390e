"""The rollout's decoding-step attention as one compiled loop, on a CPU (float32 or bf16 cache).

Design note. Each decoding step attends one new token per row to the KV cache. torch's SDPA
runs that on a CPU as its flash kernel, which blocks the work into many tiny GEMMs with their
buffers per (row, head). Measured on an AMD EPYC (Zen 4, one thread) in the rollout of the
benchmark's text model (32 rows x 8 heads x 64 wide, 49 cached positions on average): 1.0 ms a
call (1.6 ms with a bf16 cache), 0.38 s of a 1.58 s rollout (0.61 of 1.47 s in bf16). Every
pure-torch rewrite stayed close to SDPA (two batched matmuls within 5%, an elementwise
product-and-sum 20% faster; docs/performance.md). ``decode_attention.c`` is the plain loop: for
each (row, head) one pass over the positions with a running maximum (flash attention's online
softmax), each key and value read once: 0.48 ms a call, the rollout 1.58 -> 1.41 s (bf16 1.47
-> 1.03 s). It is bound by reading the cache from memory (~13 GB/s here: the weights streamed
in between evict it).

How it is wired: transformers picks a model's attention function by the name in
``config._attn_implementation``. This module registers one more name, ``mmrft_decode``, whose
function calls the kernel for the calls it fits (one query token, CPU tensors, a float32 or
bf16 cache in the dtype SDPA would compute in, no gradient, a padding mask or none) and hands
every other call, with the same arguments, to transformers' own ``sdpa_attention_forward``; its
masks are SDPA's. ``decode_attention(model)`` switches a model whose decoder uses ``sdpa`` to
that name for a rollout and back at its end, so the update and every other caller keep SDPA.

The kernel is compiled on first use with the system's C compiler (``$CC`` or ``cc``; under a
second, no torch headers; OpenMP over (row, head) where the compiler has it, in torch's own
libgomp) into ``~/.cache/mmrft/kernels`` (``$MMRFT_KERNEL_DIR``), keyed by the source, the flags
and the CPU, and loaded with ``ctypes``. Where no compiler works, ``auto`` keeps SDPA (logged
once) and ``always`` raises. The same math as SDPA, summed in another order: float32 log-probs
agree to ~1e-6; in bf16 the sums run in float32 and the output is rounded once (SDPA's bf16
kernel rounds more often: the two differ by up to one bf16 step).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from torch import Tensor
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from mmrft.models.loading import base_model

log = logging.getLogger(__name__)

NAME = "mmrft_decode"  # the attention implementation this module registers with transformers
MODES = ("auto", "always", "never")
SOURCE = Path(__file__).with_name("decode_attention.c")
# -fassociative-math (which needs the two before it) lets the compiler vectorise the sums
FLAGS = (
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fno-signed-zeros",
    "-fassociative-math",
    "-shared",
    "-fPIC",
)
# rows x heads split over torch's thread count; torch's own libgomp is the one loaded, so one
# thread pool serves both. A compiler without OpenMP (Apple's clang) builds the serial loop.
OPENMP = ("-fopenmp",)
# keyword arguments of transformers' attention functions that add to what the kernel computes
# (a paged cache, a learned bias or sinks, a window, a logit cap): a call with any goes to SDPA
EXTRA_TERMS = ("softcap", "sliding_window", "s_aux", "position_bias", "cache")
KERNEL_DTYPES = (torch.float32, torch.bfloat16)  # of the cache; the sums run in float32
_I64 = ctypes.c_int64
_ARGTYPES = [ctypes.c_void_p] * 5 + [_I64] * 13 + [ctypes.c_float, ctypes.c_int]


def kernel_dir() -> Path:
    """Where compiled kernels are kept: ``$MMRFT_KERNEL_DIR``, else ``~/.cache/mmrft/kernels``."""
    if env := os.environ.get("MMRFT_KERNEL_DIR"):
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "mmrft" / "kernels"


def _cpu() -> str:
    """The CPU's model and instruction-set flags: a kernel built with -march=native runs only
    on a CPU that has them, and a home directory can be shared between machines."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        lines = []
    wanted = [ln for ln in lines if ln.startswith(("model name", "flags", "Features"))]
    return platform.machine() + "\n" + "\n".join(dict.fromkeys(wanted))


@functools.cache  # one build (or one failure) per process
def kernel() -> dict[torch.dtype, ctypes._CFuncPtr] | None:
    """The compiled kernels by the KV cache's dtype (float32, bf16), built on first use (with
    OpenMP where the compiler has it); None where they cannot be built here (logged once)."""
    compiler = os.environ.get("CC", "cc")
    errors = []
    for flags in ((*FLAGS, *OPENMP), FLAGS):
        try:
            library = ctypes.CDLL(str(_build(compiler, flags)))
        except (OSError, subprocess.SubprocessError) as err:
            errors.append(str(getattr(err, "stderr", None) or err).strip())
            continue
        kernels = {torch.float32: library.decode_attention}
        kernels[torch.bfloat16] = library.decode_attention_bf16
        for fn in kernels.values():
            fn.argtypes, fn.restype = _ARGTYPES, None
        return kernels
    log.warning("decode attention kernel not built (%s); the rollout keeps SDPA", errors[-1])
    return None


def _build(compiler: str, flags: tuple[str, ...]) -> Path:
    """The shared library of ``SOURCE`` built with ``flags`` for this CPU, compiled unless the
    cache holds it."""
    key = hashlib.sha256(
        b"\0".join([SOURCE.read_bytes(), " ".join((compiler, *flags)).encode(), _cpu().encode()])
    ).hexdigest()[:16]
    library = kernel_dir() / f"decode_attention-{key}.so"
    if library.exists():
        return library
    library.parent.mkdir(parents=True, exist_ok=True)
    # build beside the target and rename: torchrun ranks may build at the same time
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=library.parent)
    os.close(fd)
    try:
        command = [compiler, *flags, str(SOURCE), "-o", tmp, "-lm"]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)
        os.replace(tmp, library)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return library


def decode_attention_enabled(mode: str, device: torch.device | str) -> bool:
    """Whether ``rollout.decode_attention`` (``mode``) is on for a model on ``device``: never;
    auto = on a CPU where the kernel builds; always = on a CPU, raising if it cannot build."""
    if mode not in MODES:
        raise ValueError(f"rollout.decode_attention must be one of {MODES}, got {mode!r}")
    if mode == "never" or torch.device(device).type != "cpu":
        return False
    built = kernel() is not None
    if not built and mode == "always":
        raise RuntimeError(
            "rollout.decode_attention=always, but its kernel did not build with "
            f"{os.environ.get('CC', 'cc')!r} (see the warning above); set it to auto or never"
        )
    return built


def compute_dtype(query: Tensor) -> torch.dtype:
    """The dtype SDPA would compute this call in: autocast's on the CPU, else the query's."""
    return torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else query.dtype


def fits_kernel(
    query: Tensor, key: Tensor, value: Tensor, mask: Tensor | None, dropout: float, extra: dict
) -> bool:
    """Whether a call is one the kernel computes: one query token, CPU tensors computed in
    float32 or bf16 with the cache in that dtype (under bf16 autocast the in-place cache stores
    bf16), no gradient, head dims equal and contiguous, heads a multiple of key/value heads, a
    boolean mask over the cached positions shared by all heads (or none), no extra terms."""
    n, h, q, d = query.shape
    _, h_kv, s, d_k = key.shape
    tensors = (query, key, value)
    return (
        q == 1
        and all(t.device.type == "cpu" for t in tensors)
        and query.dtype in KERNEL_DTYPES
        and key.dtype == value.dtype == compute_dtype(query) in KERNEL_DTYPES
        and not (torch.is_grad_enabled() and any(t.requires_grad for t in tensors))
        and dropout == 0.0
        and d == d_k == value.shape[-1]
        and key.stride(-1) == value.stride(-1) == 1
        and h % h_kv == 0
        and (mask is None or (mask.dtype == torch.bool and mask.shape == (n, 1, 1, s)))
        and all(extra.get(k) is None for k in EXTRA_TERMS)
        and not extra.get("output_attentions", False)
    )


def decode_attention_forward(
    module: torch.nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs,
) -> tuple[Tensor, None]:
    """transformers' attention-function contract: query [N, H, q, D], key / value
    [N, Hkv, S, D], mask [N, 1, q, S] -> ([N, q, H, D], None). The kernel where the call fits
    it (``fits_kernel``), else transformers' ``sdpa_attention_forward`` with the same arguments.

    In bf16 the query is rounded to bf16 as autocast's SDPA would, the sums run in float32 (as
    in SDPA's CPU kernel) and the output is rounded to bf16."""
    fits = fits_kernel(query, key, value, attention_mask, dropout, kwargs)
    kernels = kernel() if fits else None
    if kernels is None:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask,
            dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs,
        )  # fmt: skip
    n, h, _, d = query.shape
    h_kv, s = key.shape[1], key.shape[2]
    dtype = key.dtype
    query = query.to(dtype).float().contiguous()  # [N, H, 1, D] float32, of dtype's values
    out = query.new_empty((n, 1, h, d))  # [N, 1, H, D] = the kernel's [N, H, D], float32
    mask = attention_mask
    kernels[dtype](
        query.data_ptr(),
        key.data_ptr(),
        value.data_ptr(),
        None if mask is None else mask.data_ptr(),
        out.data_ptr(),
        n, h, h_kv, s, d,
        key.stride(0), key.stride(1), key.stride(2),
        value.stride(0), value.stride(1), value.stride(2),
        0 if mask is None else mask.stride(0),
        0 if mask is None else mask.stride(3),
        d**-0.5 if scaling is None else scaling,
        torch.get_num_threads(),
    )  # fmt: skip
    return out.to(dtype), None


AttentionInterface.register(NAME, decode_attention_forward)
AttentionMaskInterface.register(NAME, sdpa_mask)  # the masks SDPA gets: boolean, or none


@contextmanager
def decode_attention(model: torch.nn.Module, enabled: bool) -> Iterator[bool]:
    """For the block's duration, ``model``'s decoder attention runs through
    ``decode_attention_forward`` where it is SDPA; yields whether it was switched."""
    config = base_model(model).config.get_text_config()
    switch = enabled and getattr(config, "_attn_implementation", None) == "sdpa"
    if switch:
        config._attn_implementation = NAME
    try:
        yield switch
    finally:
        if switch:
            config._attn_implementation = "sdpa"
