"""Micro-batching changes memory, not the update: gradients equal the one-pass gradient.

The model runs in float64 so that the only difference between one pass and k accumulated
micro-batches is summation order. Qwen2.5-VL's vision tower keeps its rotary tables in float32
even in a float64 model, so vision-weight gradients differ by up to ~4e-8 of their size (measured);
the bound, 1e-6 of each tensor's largest gradient, leaves room for that and nothing else. A mean
of per-micro-batch means (the classic accumulation bug) is off by ~4e-4 in the loss here.
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch

from mmrft.algorithms.aggregation import AGG_MODES, agg_denominator, agg_loss
from mmrft.build import make_objective
from mmrft.config import Config, load_config
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer import update
from mmrft.trainer.update import backward_slice, micro_batches, policy_logprobs

TOL = 1e-9  # scalars near 0: float64 sums
LOSS_REL = 1e-8  # losses (measured 5e-10 relative: the float32 vision tables again)
REL_TOL = 1e-6  # gradients (relative to each tensor's largest entry) and mean metrics


@pytest.fixture(scope="module")
def setup(count_samples):
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    model = model.double()
    family = family_for(model.config.model_type, processor)
    batch = HFSampler(model, family).generate(
        count_samples[:3], SamplingParams(n=4, max_new_tokens=12, seed=0)
    )  # 12 rows x 12 tokens: an untrained model never stops early, so cut rows to unequal
    # lengths (2..12 tokens): the normaliser matters only when lengths differ
    lengths = torch.tensor([2 + (5 * i) % 11 for i in range(len(batch.texts))])
    mask = (torch.arange(batch.completion_mask.shape[1]) < lengths[:, None]).float()
    batch = dataclasses.replace(batch, completion_mask=mask * batch.completion_mask)
    assert len(set(batch.completion_mask.sum(1).tolist())) > 5
    gen = torch.Generator().manual_seed(0)
    advantages = torch.randn(len(batch.texts), generator=gen, dtype=torch.float64)
    with torch.no_grad():
        ref_model = copy.deepcopy(model)
        for p in ref_model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
        ref_logp = policy_logprobs(ref_model, family, batch, temp=1.0)
        old_logp = policy_logprobs(model, family, batch, temp=1.0)
        old_logp = old_logp + 0.05 * torch.randn(
            old_logp.shape, generator=gen, dtype=old_logp.dtype
        )
    return model, family, batch, advantages, old_logp, ref_logp


def _grads(setup, cfg: Config, micro: int | None) -> tuple[dict[str, torch.Tensor], dict]:
    model, family, batch, advantages, old_logp, ref_logp = setup
    cfg = dataclasses.replace(cfg, rl=dataclasses.replace(cfg.rl, micro_batch_size=micro))
    model.zero_grad(set_to_none=True)
    rows = list(range(len(batch.texts)))
    metrics = backward_slice(
        cfg,
        make_objective(cfg.algorithm),
        model,
        family,
        batch,
        rows,
        advantages,
        batch.completion_mask.double(),
        old_logp=old_logp,
        ref_logp=ref_logp if cfg.algorithm.kl_coef > 0 else None,
        kl_coef=cfg.algorithm.kl_coef,
    )
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return grads, metrics


@pytest.mark.parametrize("mode", AGG_MODES)
@pytest.mark.parametrize("kl,entropy", [(0.0, 0.0), (0.1, 0.0), (0.0, 0.01), (0.1, 0.01)])
def test_micro_batched_gradient_equals_one_pass(setup, mode, kl, entropy):
    cfg = load_config(
        None,
        [
            f"algorithm.loss_agg_mode={mode}",
            f"algorithm.kl_coef={kl}",
            f"algorithm.entropy_coef={entropy}",
            "rollout.max_new_tokens=12",
        ],
    )
    full, full_m = _grads(setup, cfg, None)
    assert full and max(g.abs().max() for g in full.values()) > 1e-6  # a real gradient
    for micro in (1, 3, 8):  # 8 leaves a ragged last micro-batch of 4 rows
        got, m = _grads(setup, cfg, micro)
        assert got.keys() == full.keys()
        for name, g in full.items():
            bound = REL_TOL * g.abs().max().item()
            assert (got[name] - g).abs().max().item() <= bound, (micro, name)
        # the loss parts add up to the one-pass loss; token-weighted metrics match its means
        assert m["actor/loss"] == pytest.approx(full_m["actor/loss"], rel=LOSS_REL, abs=TOL)
        assert m["actor/pg_loss"] == pytest.approx(full_m["actor/pg_loss"], rel=LOSS_REL, abs=TOL)
        if kl:
            assert m["actor/kl"] == pytest.approx(full_m["actor/kl"], rel=REL_TOL)
        assert m["actor/entropy"] == pytest.approx(full_m["actor/entropy"], rel=REL_TOL)


def test_a_mean_of_micro_batch_means_would_differ(setup):
    """The bug the shared normaliser prevents, made visible on the same rows: averaging each
    micro-batch's own token-mean loss weighs a short micro-batch's tokens more."""
    _, _, batch, advantages, _, _ = setup
    mask = batch.completion_mask.double()
    loss_mat = -advantages[:, None] * torch.ones_like(mask)  # [N, L] a ratio-1 surrogate
    whole = agg_loss(loss_mat, mask, "token-mean")
    parts = micro_batches(list(range(len(batch.texts))), 3)
    denom = agg_denominator(mask, "token-mean")
    shared = sum(agg_loss(loss_mat[r], mask[r], "token-mean", denominator=denom) for r in parts)
    naive = sum(agg_loss(loss_mat[r], mask[r], "token-mean") for r in parts) / len(parts)
    assert shared.item() == pytest.approx(whole.item(), abs=1e-12)
    assert abs(naive.item() - whole.item()) > 1e-4  # 4.4e-4 here, against 1e-12 above


def test_chunked_no_grad_logprobs_equal_one_pass(setup):
    model, family, batch, *_ = setup
    with torch.no_grad():
        whole = policy_logprobs(model, family, batch, temp=1.0)
        chunked = policy_logprobs(model, family, batch, temp=1.0, micro_batch_size=5)
    mask = batch.completion_mask.bool()
    assert torch.allclose(chunked[mask], whole[mask], rtol=0, atol=TOL)


def test_denominator_hand_computed():
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    assert agg_denominator(mask, "token-mean").item() == 6  # 3 + 1 + 2 real tokens
    assert agg_denominator(mask, "seq-mean-token-mean").item() == 3  # 3 sequences
    assert agg_denominator(mask, "seq-mean-token-sum").item() == 3
    assert agg_denominator(mask, "seq-mean-token-sum-norm", max_len=16).item() == 48  # 3 * 16
    # additive over rows, which is what lets ranks and micro-batches sum their parts
    assert agg_denominator(mask[:1], "token-mean") + agg_denominator(mask[1:], "token-mean") == 6


@pytest.mark.parametrize("micro", [None, 4, 5])  # whole groups; groups split across micro-batches
def test_shared_prompt_update_equals_plain(setup, micro, monkeypatch):
    """rl.share_prompt (each distinct prompt forwarded once) leaves the update unchanged: the
    gradient, the loss and the no-grad log-probs equal the plain per-row forward's."""
    calls = []
    shared_forward = update.shared_prompt_forward
    monkeypatch.setattr(
        update, "shared_prompt_forward", lambda *a, **k: calls.append(1) or shared_forward(*a, **k)
    )
    cfg = load_config(None, ["algorithm.kl_coef=0.1", "algorithm.entropy_coef=0.01"])
    cfg = dataclasses.replace(cfg, rollout=dataclasses.replace(cfg.rollout, max_new_tokens=12))
    plain_cfg = dataclasses.replace(cfg, rl=dataclasses.replace(cfg.rl, share_prompt=False))
    want, want_m = _grads(setup, plain_cfg, micro)
    assert not calls
    got, got_m = _grads(setup, cfg, micro)
    assert calls  # the shared path ran
    assert got.keys() == want.keys()
    for name, g in want.items():
        assert (got[name] - g).abs().max().item() <= REL_TOL * g.abs().max().item(), name
    assert got_m["actor/loss"] == pytest.approx(want_m["actor/loss"], rel=LOSS_REL, abs=TOL)
    assert got_m["actor/kl"] == pytest.approx(want_m["actor/kl"], rel=REL_TOL)
    assert got_m["actor/entropy"] == pytest.approx(want_m["actor/entropy"], rel=REL_TOL)
    model, family, batch, *_ = setup
    with torch.no_grad():
        plain = policy_logprobs(model, family, batch, temp=1.0, micro_batch_size=micro)
        shared = policy_logprobs(
            model, family, batch, temp=1.0, micro_batch_size=micro, share_prompt=True
        )
    mask = batch.completion_mask.bool()
    assert torch.allclose(shared[mask], plain[mask], rtol=0, atol=TOL)
