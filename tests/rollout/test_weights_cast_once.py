"""Under the trainer's bf16 autocast the HF rollout casts each weight once (autocast's cache) and
empties that cache at the end: the same completions and log-probs as casting at every step,
and a rollout after a weight update sees the new weights, not stale bf16 copies."""

from __future__ import annotations

from contextlib import nullcontext

import torch

from mmrft.data.sample import Sample
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams, hf

SAMPLES = [
    Sample(id="a", prompt="Say a number.", answer="1"),
    Sample(id="b", prompt="Hi.", answer=""),
]
PARAMS = SamplingParams(n=3, temperature=1.0, max_new_tokens=6, seed=0)


def _rollouts(monkeypatch, cast_once: bool):
    """Two rollouts under the trainer's autocast (no cache), with a weight update between."""
    if not cast_once:
        monkeypatch.setattr(hf, "weights_cast_once", lambda model: nullcontext())
    model, processor = load_policy("tiny-qwen2", seed=0)
    sampler = HFSampler(model, family_for(model.config.model_type, processor))
    with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
        first = sampler.generate(SAMPLES, PARAMS)
        with torch.no_grad():  # an "update": every weight moves
            for p in model.parameters():
                p.mul_(1.5)
        second = sampler.generate(SAMPLES, PARAMS)
    return first, second


def test_cast_once_equals_casting_every_step(monkeypatch):
    first, second = _rollouts(monkeypatch, cast_once=True)
    with monkeypatch.context() as m:
        want_first, want_second = _rollouts(m, cast_once=False)
    for got, want in ((first, want_first), (second, want_second)):
        assert torch.equal(got.completion_ids, want.completion_ids)
        assert torch.equal(got.logprobs, want.logprobs)
    # the update changed the rollout: the second one did not reuse the first one's casts
    assert not torch.equal(second.logprobs, first.logprobs)


def test_cast_once_caches_inside_and_empties_after():
    model, _ = load_policy("tiny-qwen2", seed=0)
    weight = model.lm_head.weight
    x = torch.randn(2, weight.shape[1])
    with torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=False):
        with hf.weights_cast_once(model):
            a = torch.nn.functional.linear(x, weight)
            with torch.no_grad():
                weight.mul_(2.0)
            cached = torch.nn.functional.linear(x, weight)  # the cached (old) bf16 copy
        fresh = torch.nn.functional.linear(x, weight)
    assert torch.equal(cached, a)  # inside: one cast, reused
    assert torch.allclose(fresh.float(), 2 * a.float(), rtol=1e-2)  # after: the new weights
    with hf.weights_cast_once(model):  # outside autocast: nothing to cache, plain float32
        assert torch.nn.functional.linear(x, weight).dtype == torch.float32
