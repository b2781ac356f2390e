"""The in-place KV cache (rollout/kv_cache.py) holds exactly what transformers' concatenating
cache holds, and rollouts through it equal rollouts through transformers' own cache."""

from __future__ import annotations

import pytest
import torch
from transformers.cache_utils import DynamicLayer

from mmrft.data.sample import Sample
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams, hf
from mmrft.rollout.kv_cache import ReservedLayer, reserved_cache
from mmrft.tasks import TASKS


def test_reserved_layer_equals_concatenation_through_growth_and_repeat():
    torch.manual_seed(0)
    ours, ref = ReservedLayer(extra=2), DynamicLayer()
    steps = [torch.randn(2, 3, q, 4) for q in (5, 1, 1, 1, 2)]  # 10 > 5 + 2: grows once
    for k in steps:
        got = ours.update(k, -k)
        want = ref.update(k, -k)
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
        assert ours.get_seq_length() == ref.get_seq_length()
    ours.batch_repeat_interleave(3)
    ref.batch_repeat_interleave(3)
    assert torch.equal(ours.keys, ref.keys) and ours.keys.shape == (6, 3, 10, 4)
    new = torch.randn(6, 3, 1, 4)
    assert torch.equal(ours.update(new, new)[0], ref.update(new, new)[0])


def test_reserved_cache_only_for_full_attention_layers():
    model, _ = load_policy("tiny-qwen2", seed=0)
    cache = reserved_cache(model, 8)
    assert cache is not None and all(isinstance(x, ReservedLayer) for x in cache.layers)
    gemma, _ = load_policy("tiny-gemma3", seed=0)  # sliding-window layers: transformers' cache
    assert reserved_cache(gemma, 8) is None


def _rollout_setup(name: str) -> tuple:
    """A builtin tiny model, its family, a text prompt (and a counting image for a VLM), and
    sampling settings of 3 completions x 7 tokens."""
    model, processor = load_policy(name, seed=0)
    family = family_for(model.config.model_type, processor)
    samples = [Sample(id="t", prompt="Name three colours, then count.", answer="")]
    if family.multimodal:
        samples = [TASKS.get("count")().generate(1, 1), *samples]
    return model, family, samples, SamplingParams(n=3, max_new_tokens=7, seed=0)


@pytest.mark.parametrize("name", ["tiny-qwen2", "tiny-qwen2.5-vl", "tiny-llava"])
@pytest.mark.parametrize("share", [True, False])
def test_rollout_through_reserved_cache_equals_transformers_cache(name, share):
    model, family, samples, params = _rollout_setup(name)
    ours = HFSampler(model, family, share_prefill=share).generate(samples, params)
    theirs = HFSampler(model, family, share_prefill=share, reserve_cache=False)
    theirs = theirs.generate(samples, params)
    assert torch.equal(ours.completion_ids, theirs.completion_ids)
    torch.testing.assert_close(ours.logprobs, theirs.logprobs, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["tiny-qwen2", "tiny-qwen2.5-vl"])
def test_bf16_autocast_rollout_stores_bf16_and_equals_transformers_cache(name, monkeypatch):
    """Under bf16 autocast the cache stores keys and values in bf16 (the attention would cast
    them to that at every step) and the rollout is bit for bit the one through transformers'
    cache, which stores float32 keys; outside autocast it stores float32."""
    stored = []
    update = ReservedLayer.update

    def recording(self, key_states, value_states, *args, **kwargs):
        out = update(self, key_states, value_states, *args, **kwargs)
        stored.append((key_states.dtype, out[0].dtype, out[1].dtype))
        return out

    monkeypatch.setattr(ReservedLayer, "update", recording)
    model, family, samples, params = _rollout_setup(name)
    # SDPA on both sides: the compiled decode attention reads a bf16 cache only (the float32 one
    # of transformers' cache goes to SDPA), so it would compare two kernels, not two caches
    sdpa = {"decode_attention": "never"}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = HFSampler(model, family, **sdpa).generate(samples, params)
        assert stored and {s[1:] for s in stored} == {(torch.bfloat16, torch.bfloat16)}
        assert (torch.float32, torch.bfloat16, torch.bfloat16) in stored  # RoPE's float32 keys
        theirs = HFSampler(model, family, reserve_cache=False, **sdpa).generate(samples, params)
    assert torch.equal(ours.completion_ids, theirs.completion_ids)
    assert torch.equal(ours.logprobs, theirs.logprobs)
    stored.clear()
    HFSampler(model, family).generate(samples, params)  # no autocast: float32 as before
    assert {s[1:] for s in stored} == {(torch.float32, torch.float32)}


def test_no_cast_for_other_attention_implementations():
    model, _ = load_policy("tiny-qwen2", seed=0)
    assert all(layer.store_autocast_dtype for layer in reserved_cache(model, 8).layers)
    model.config._attn_implementation = "flex_attention"  # not known to cast: left as is
    assert not any(layer.store_autocast_dtype for layer in reserved_cache(model, 8).layers)


def test_cache_argument_is_checked_once_per_sampler(monkeypatch):
    """The forward-signature check runs when the sampler is built, not once per chunk; a model
    whose forward takes no ``cache=`` (an older transformers, simulated) takes the plain path."""
    model, processor = load_policy("tiny-qwen2", seed=0)
    family = family_for(model.config.model_type, processor)
    given = []  # per generate call: was a cache passed?
    generate = model.generate
    monkeypatch.setattr(
        model, "generate", lambda **kw: given.append("cache" in kw) or generate(**kw)
    )
    samples = [Sample(id=str(i), prompt=f"Count to {i}.", answer="") for i in range(3)]
    params = SamplingParams(n=2, max_new_tokens=4, seed=0)  # 6 rows: 3 chunks of 2

    HFSampler(model, family, batch_size=2, share_prefill=False).generate(samples, params)
    assert given == [True, True, True]  # the pinned transformers takes cache=
    checked = []

    def no_cache_argument(m):
        checked.append(m)
        return False

    monkeypatch.setattr(hf, "takes_cache_argument", no_cache_argument)
    sampler = HFSampler(model, family, batch_size=2, share_prefill=False)
    assert checked == [model] and not sampler.reserve_cache
    given.clear()
    assert sampler.generate(samples, params).completion_ids.shape[0] == 6
    assert given == [False, False, False]  # the plain path in every chunk
    assert checked == [model]  # still the one check, the constructor's
