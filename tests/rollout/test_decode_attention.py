"""The compiled decode attention (``rollout/decode_attention.py``): the kernel against attention
written out in float64 (grouped heads, strided cache views, left-padding masks, a row with
nothing to attend to), bitwise the same at any thread count; every call it does not fit handed
to transformers' SDPA function unchanged; the rollout's switch (on for the rollout only, the
same completions as SDPA's); and the modes, the build cache and a compiler that fails."""

from __future__ import annotations

import logging
import os
import re
import shutil

import pytest
import torch
import torch.nn.functional as F
from transformers.integrations.sdpa_attention import sdpa_attention_forward

import mmrft.rollout.decode_attention as da
from mmrft.config import load_config
from mmrft.data.sample import Sample
from mmrft.dataclass_yaml import ConfigError
from mmrft.models import family_for
from mmrft.models.tiny import TINY_MODELS
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.tasks import TASKS

# A machine with a C compiler must build the kernel: a broken build fails here, not skips.
needs_cc = pytest.mark.skipif(
    shutil.which(os.environ.get("CC", "cc")) is None, reason="no C compiler to build the kernel"
)


def reference(q, k, v, keep, scale):
    """softmax(scale * q . k + mask) @ v in float64, heads repeated as transformers' repeat_kv.

    q [N, H, 1, D], k / v [N, Hkv, S, D], keep [N, S] bool or None -> [N, 1, H, D]."""
    group = q.shape[1] // k.shape[1]
    k = k.double().repeat_interleave(group, dim=1)  # [N, H, S, D]
    v = v.double().repeat_interleave(group, dim=1)
    scores = (q.double() @ k.transpose(-1, -2)) * scale  # [N, H, 1, S]
    if keep is not None:
        scores = scores.masked_fill(~keep[:, None, None, :], float("-inf"))
    weights = scores.softmax(-1).nan_to_num(0.0)  # a row with nothing kept -> zeros
    return (weights @ v).transpose(1, 2)  # [N, 1, H, D]


def call(q, k, v, mask=None, **kwargs):
    return da.decode_attention_forward(torch.nn.Module(), q, k, v, mask, **kwargs)[0]


def cache_views(n, h_kv, s, d, reserve=7):
    """Keys and values as the in-place cache hands them out: views [N, Hkv, S, D] of larger
    buffers, so their strides over N and Hkv are not those of a contiguous tensor."""
    buf_k, buf_v = torch.randn(n, h_kv, s + reserve, d), torch.randn(n, h_kv, s + reserve, d)
    return buf_k[:, :, :s], buf_v[:, :, :s]


@needs_cc
@pytest.mark.parametrize(("heads", "kv_heads"), [(4, 4), (6, 2), (8, 1)])
@pytest.mark.parametrize("padded", [False, True])
def test_kernel_is_attention_written_out(heads, kv_heads, padded):
    torch.manual_seed(heads + padded)
    n, s, d = 5, 23, 16
    q = torch.randn(n, heads, 1, d)
    k, v = cache_views(n, kv_heads, s, d)
    keep = None
    if padded:  # rows left-padded by 0, 3, 6, 9, 12 positions
        keep = torch.arange(s)[None, :] >= 3 * torch.arange(n)[:, None]  # [N, S]
    mask = None if keep is None else keep[:, None, None, :]  # SDPA's mask [N, 1, 1, S]
    got = call(q, k, v, mask, scaling=0.3)
    assert got.shape == (n, 1, heads, d) and got.is_contiguous()
    torch.testing.assert_close(got.double(), reference(q, k, v, keep, 0.3), rtol=0, atol=2e-6)
    # and SDPA (its own GQA) on the same inputs, default scale 1/sqrt(D)
    want = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=True)
    torch.testing.assert_close(call(q, k, v, mask), want.transpose(1, 2), rtol=0, atol=2e-6)


@needs_cc
@pytest.mark.parametrize("autocast", [False, True])
def test_bf16_cache_sums_in_float32_and_rounds_once(autocast):
    # autocast: the rollout's case (float32 query from RoPE, bf16 cache); else all bf16
    torch.manual_seed(1)
    module = torch.nn.Module()
    module.num_key_value_groups = 2
    q = torch.randn(5, 6, 1, 32)
    k, v = (t.bfloat16() for t in cache_views(5, 3, 23, 32))
    keep = torch.arange(23)[None, :] >= 3 * torch.arange(5)[:, None]  # [N, S]
    mask = keep[:, None, None, :]
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        got = da.decode_attention_forward(module, q if autocast else q.bfloat16(), k, v, mask)[0]
        want = sdpa_attention_forward(module, q if autocast else q.bfloat16(), k, v, mask)[0]
    assert got.dtype == want.dtype == torch.bfloat16
    # float64 attention of the bf16 values (the query rounded as autocast rounds it): the
    # kernel's float32 sums are that to ~1e-6, then one rounding to bf16 (half of 2^-7)
    exact = reference(q.bfloat16(), k, v, keep, 32**-0.5)
    assert ((got.double() - exact).abs() <= 2**-8 * exact.abs() + 1e-6).all()
    # and SDPA, whose bf16 kernel rounds more often: within a bf16 step of the largest entry
    torch.testing.assert_close(got, want, rtol=0, atol=2**-7 * want.abs().max().item())


@needs_cc
def test_a_row_with_nothing_to_attend_to_gets_zeros():
    q, (k, v) = torch.randn(2, 2, 1, 8), cache_views(2, 2, 4, 8)
    keep = torch.tensor([[True, True, False, False], [False] * 4])
    got = call(q, k, v, keep[:, None, None, :])
    assert torch.equal(got[1], torch.zeros(1, 2, 8))
    torch.testing.assert_close(got.double(), reference(q, k, v, keep, 8**-0.5), atol=2e-6, rtol=0)


@needs_cc
def test_same_bits_at_any_thread_count():
    # each (row, head) is one thread's whole loop, so threads change the split, not the sums
    q, (k, v) = torch.randn(16, 8, 1, 32), cache_views(16, 4, 40, 32)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = call(q, k, v)
        torch.set_num_threads(2)
        two = call(q, k, v)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def _cases():
    q, (k, v) = torch.randn(2, 4, 1, 8), cache_views(2, 2, 6, 8)
    keep = torch.ones(2, 1, 1, 6, dtype=torch.bool)
    prompt = torch.randn(2, 4, 3, 8)
    yield "several query tokens (a prefill)", (prompt, k, v, None), {}
    yield "gradient", (q.clone().requires_grad_(), k, v, keep), {}
    yield "float16", (q.half(), k.half(), v.half(), keep), {}
    yield "float32 query, bf16 cache, no autocast", (q, k.bfloat16(), v.bfloat16(), keep), {}
    yield "additive float mask", (q, k, v, torch.zeros(2, 1, 1, 6)), {}
    yield "per-head mask", (q, k, v, keep.expand(2, 4, 1, 6)), {}
    yield "dropout", (q, k, v, keep), {"dropout": 0.1}
    yield "sliding window", (q, k, v, keep), {"sliding_window": 4}
    yield "softcap", (q, k, v, keep), {"softcap": 30.0}  # SDPA itself refuses it
    yield "position bias", (q, k, v, keep), {"position_bias": torch.zeros(1, 4, 1, 6)}


@pytest.mark.parametrize(("case", "args", "kwargs"), list(_cases()), ids=[c[0] for c in _cases()])
def test_calls_it_does_not_fit_go_to_sdpa_unchanged(case, args, kwargs, monkeypatch):
    raising = dict.fromkeys(da.KERNEL_DTYPES, lambda *a: 1 / 0)  # a kernel call would raise
    monkeypatch.setattr(da, "kernel", lambda: raising)
    module = torch.nn.Module()
    module.num_key_value_groups = 2  # 4 query heads over 2 key/value heads, for SDPA's GQA
    torch.manual_seed(0)
    try:
        want = sdpa_attention_forward(module, *args, **kwargs)[0]
    except (ValueError, RuntimeError) as err:  # the same refusal, not a silent kernel call
        with pytest.raises(type(err), match=re.escape(str(err)[:20])):
            da.decode_attention_forward(module, *args, **kwargs)
        return
    torch.manual_seed(0)  # dropout draws the same mask
    got = da.decode_attention_forward(module, *args, **kwargs)[0]
    assert torch.equal(got, want)


def count_kernel_calls(monkeypatch) -> dict:
    """Route the kernels through counters; returns the calls per cache dtype, filled as they run."""
    calls = dict.fromkeys(da.KERNEL_DTYPES, 0)
    kernels = da.kernel()

    def counting(dtype):
        def count(*args):
            calls[dtype] += 1
            return kernels[dtype](*args)

        return count

    counted = {dtype: counting(dtype) for dtype in da.KERNEL_DTYPES}
    monkeypatch.setattr(da, "kernel", lambda: counted)
    return calls


def _sampler(name, mode, **sizes):
    model, processor = TINY_MODELS.get(name)(0, **sizes)
    return HFSampler(model, family_for(model.config.model_type, processor), decode_attention=mode)


TEXT = [
    Sample(id="a", prompt="Say a number.", answer="1"),
    Sample(id="b", prompt="Hi, how are you today? Tell me more.", answer=""),  # longer: pads "a"
]


@needs_cc
@pytest.mark.parametrize("name", ["tiny-qwen2", "tiny-qwen2.5-vl"])
def test_rollout_uses_it_for_decoding_only_and_matches_sdpa(name, monkeypatch):
    kernel_calls = count_kernel_calls(monkeypatch)
    sdpa_calls, sdpa_fn = [], da.sdpa_attention_forward

    def counting_sdpa(*args, **kwargs):
        sdpa_calls.append(1)
        return sdpa_fn(*args, **kwargs)

    monkeypatch.setattr(da, "sdpa_attention_forward", counting_sdpa)
    samples = (
        TEXT if name == "tiny-qwen2" else [TASKS.get("count")().generate(i, 1) for i in (0, 1)]
    )
    params = SamplingParams(n=3, max_new_tokens=6, seed=0)
    fast, plain = _sampler(name, "auto"), _sampler(name, "never")
    assert fast.fast_attention and not plain.fast_attention
    got = fast.generate(samples, params)
    config = fast.model.config.get_text_config()
    assert config._attn_implementation == "sdpa"  # switched back after the rollout
    layers, steps = config.num_hidden_layers, got.completion_ids.shape[1]
    # the shared prefill forwards each prompt but its last token once (SDPA); generate then
    # feeds one token per row and step, the prompt's last first: one kernel call per step
    assert len(sdpa_calls) == layers and kernel_calls[torch.float32] == steps * layers
    want = plain.generate(samples, params)
    assert kernel_calls[torch.float32] == steps * layers  # the plain sampler never reached it
    assert torch.equal(got.completion_ids, want.completion_ids) and got.texts == want.texts
    torch.testing.assert_close(got.logprobs, want.logprobs, rtol=0, atol=1e-5)


@needs_cc
def test_bf16_autocast_rollout_runs_the_bf16_kernel(monkeypatch):
    calls = count_kernel_calls(monkeypatch)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=6)
    fast, plain = _sampler("tiny-qwen2", "auto"), _sampler("tiny-qwen2", "never")
    with torch.autocast("cpu", dtype=torch.bfloat16):  # as model.dtype=bfloat16 trains
        got, want = fast.generate(TEXT, greedy), plain.generate(TEXT, greedy)
    layers = fast.model.config.num_hidden_layers
    # one row per prompt: generate's prefill makes the first token, each later one is a step
    assert calls == {torch.float32: 0, torch.bfloat16: (got.completion_ids.shape[1] - 1) * layers}
    assert torch.equal(got.completion_ids, want.completion_ids)


def test_switch_leaves_other_attention_implementations_alone():
    model, _ = TINY_MODELS.get("tiny-qwen2")(0)
    model.config._attn_implementation = "eager"
    with da.decode_attention(model, True) as switched:
        assert not switched and model.config._attn_implementation == "eager"
    model.config._attn_implementation = "sdpa"
    with pytest.raises(RuntimeError), da.decode_attention(model, True) as switched:
        assert switched and model.config._attn_implementation == da.NAME
        raise RuntimeError("a rollout that fails")
    assert model.config._attn_implementation == "sdpa"  # restored on the error too


@pytest.fixture
def fresh_build(tmp_path, monkeypatch):
    """An empty kernel cache and a forgotten build, restored afterwards."""
    monkeypatch.setenv("MMRFT_KERNEL_DIR", str(tmp_path))
    da.kernel.cache_clear()
    yield tmp_path
    da.kernel.cache_clear()


@needs_cc
def test_built_once_then_loaded_from_the_cache(fresh_build, monkeypatch):
    assert da.kernel() is not None
    built = sorted(fresh_build.iterdir())
    assert len(built) == 1 and built[0].suffix == ".so"  # no temporary file left behind
    da.kernel.cache_clear()
    monkeypatch.setenv("CC", "false")  # a compiler that fails: not asked again for the same key
    monkeypatch.setattr(da, "_build", lambda cc, flags: built[0])
    assert da.kernel() is not None


def test_a_compiler_that_fails_keeps_sdpa_or_raises(fresh_build, monkeypatch, caplog):
    monkeypatch.setenv("CC", "false")  # exits 1 whatever it is given
    with caplog.at_level(logging.WARNING, logger=da.__name__):
        assert da.kernel() is None
        assert not da.decode_attention_enabled("auto", "cpu")
    assert "keeps SDPA" in caplog.text
    assert list(fresh_build.iterdir()) == []  # nothing half-built left in the cache
    with pytest.raises(RuntimeError, match="rollout.decode_attention=always"):
        da.decode_attention_enabled("always", "cpu")
    # and the forward still answers, through SDPA
    q, (k, v) = torch.randn(1, 2, 1, 8), cache_views(1, 2, 3, 8)
    want = F.scaled_dot_product_attention(q, k, v).transpose(1, 2)
    assert torch.equal(call(q, k, v), want)


def test_modes(monkeypatch):
    monkeypatch.setattr(da, "kernel", lambda: 1 / 0)  # none of these may build it
    assert not da.decode_attention_enabled("never", "cpu")
    assert not da.decode_attention_enabled("auto", "cuda")  # GPU rollouts keep their kernels
    assert not da.decode_attention_enabled("always", "meta")
    with pytest.raises(ValueError, match="rollout.decode_attention"):
        da.decode_attention_enabled("sometimes", "cpu")
    with pytest.raises(ConfigError, match="decode_attention"):
        load_config(None, ["rollout.decode_attention=sometimes"])
