"""rl.skip_zero_advantage: rows with zero advantage are left out of the update, which stays the same.

The model runs in float64 (as in test_micro_batches.py), so the only difference between the
update over every row and over the informative rows is summation order; the bound is 1e-6 of
each tensor's largest gradient (the float32 vision rotary tables of Qwen2.5-VL, ~4e-8).
"""

from __future__ import annotations

import copy
import dataclasses

import pytest
import torch
from learn_utils import run_digit_task

from mmrft.algorithms.aggregation import AGG_MODES
from mmrft.algorithms.losses import ADVANTAGE_WEIGHTED, POLICY_LOSSES
from mmrft.build import make_objective
from mmrft.config import load_config
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer import rl, update
from mmrft.trainer.update import (
    backward_slice,
    input_kinds,
    policy_logprobs,
    rollout_policy_logprobs,
    rows_to_train,
    update_policy,
)

REL_TOL = 1e-6
GROUP = 4
INFORMATIVE = [4, 5, 6, 7]  # the middle group; the first and last groups scored alike


@pytest.fixture(scope="module")
def setup(count_samples):
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    model = model.double()
    family = family_for(model.config.model_type, processor)
    batch = HFSampler(model, family).generate(
        count_samples[:3], SamplingParams(n=GROUP, max_new_tokens=10, seed=0)
    )
    lengths = torch.tensor([3 + (3 * i) % 8 for i in range(len(batch.texts))])  # unequal rows
    mask = (torch.arange(batch.completion_mask.shape[1]) < lengths[:, None]).double()
    batch = dataclasses.replace(batch, completion_mask=mask * batch.completion_mask)
    gen = torch.Generator().manual_seed(0)
    advantages = torch.zeros(len(batch.texts), dtype=torch.float64)
    advantages[INFORMATIVE] = torch.randn(len(INFORMATIVE), generator=gen, dtype=torch.float64)
    with torch.no_grad():  # old log-probs off the current ones, so ratios and clipping are live
        old = policy_logprobs(model, family, batch, temp=1.0)
        old = old + 0.3 * torch.randn(old.shape, generator=gen, dtype=old.dtype)
    return model, family, batch, advantages, old


def _run(setup, overrides, advantages=None, *, ref=False, monkeypatch=None):
    """Gradients, metrics and the rows forwarded by one ``backward_slice`` over every row."""
    model, family, batch, adv, old = setup
    adv = adv if advantages is None else advantages
    cfg = load_config(None, ["rollout.max_new_tokens=10", *overrides])
    seen: list[int] = []
    if monkeypatch is not None:
        forward = update.forward_rows
        monkeypatch.setattr(
            update, "forward_rows", lambda *a, **k: seen.extend(a[3]) or forward(*a, **k)
        )
    model.zero_grad(set_to_none=True)
    metrics = backward_slice(
        cfg, make_objective(cfg.algorithm), model, family, batch, list(range(len(batch.texts))),
        adv, batch.completion_mask, old_logp=old, ref_logp=old if ref else None,
        kl_coef=cfg.algorithm.kl_coef,
    )  # fmt: skip
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return grads, metrics, seen


def _assert_same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for name, g in want.items():
        assert (got[name] - g).abs().max().item() <= REL_TOL * g.abs().max().item(), name


@pytest.mark.parametrize("loss", sorted(POLICY_LOSSES.names()))
@pytest.mark.parametrize("mode", AGG_MODES)
def test_skipping_zero_advantage_rows_leaves_the_gradient(setup, loss, mode, monkeypatch):
    opts = [f"algorithm.policy_loss={loss}", f"algorithm.loss_agg_mode={mode}"]
    want, want_m, all_rows = _run(
        setup, [*opts, "rl.skip_zero_advantage=false"], monkeypatch=monkeypatch
    )
    assert sorted(all_rows) == list(range(12)) and want_m["actor/trained_rows"] == 1.0
    got, got_m, seen = _run(setup, opts, monkeypatch=monkeypatch)
    assert seen == INFORMATIVE and got_m["actor/trained_rows"] == pytest.approx(4 / 12)
    assert max(g.abs().max() for g in want.values()) > 1e-6  # a real gradient
    _assert_same(got, want)
    # the loss keeps the whole slice's normaliser: the left-out rows' terms were exactly 0
    assert got_m["actor/loss"] == pytest.approx(want_m["actor/loss"], rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("micro", [1, 3])
def test_skipping_with_micro_batches(setup, micro, monkeypatch):
    want, _, _ = _run(setup, ["rl.skip_zero_advantage=false"])
    got, m, seen = _run(setup, [f"rl.micro_batch_size={micro}"], monkeypatch=monkeypatch)
    assert seen == INFORMATIVE
    _assert_same(got, want)


def test_token_level_advantages_zero_only_where_masked_count_as_zero(setup, monkeypatch):
    model, family, batch, adv, old = setup
    token_adv = adv[:, None].repeat(1, batch.completion_mask.shape[1])  # [N, L]
    token_adv[0] = (1 - batch.completion_mask[0]) * 5.0  # nonzero on row 0's padding only
    want, _, _ = _run(setup, ["rl.skip_zero_advantage=false"], token_adv)
    got, _, seen = _run(setup, [], token_adv, monkeypatch=monkeypatch)
    assert seen == INFORMATIVE
    _assert_same(got, want)


def test_all_zero_advantages_still_give_every_parameter_its_zero_gradient(setup, monkeypatch):
    """AdamW steps a parameter whose gradient is 0 (its momentum moves it) but not one whose
    gradient is None, so one row is kept: the same parameters get (zero) gradients."""
    zeros = torch.zeros(12, dtype=torch.float64)
    want, _, _ = _run(setup, ["rl.skip_zero_advantage=false"], zeros)
    got, m, seen = _run(setup, [], zeros, monkeypatch=monkeypatch)
    assert seen == [0] and m["actor/trained_rows"] == pytest.approx(1 / 12)
    assert got.keys() == want.keys() and len(got) > 50  # vision tower included
    assert all(g.abs().max() == 0 for g in got.values())


@pytest.mark.parametrize(
    "overrides,ref",
    [
        (["rl.skip_zero_advantage=false"], False),
        (["algorithm.entropy_coef=0.01"], False),  # the entropy bonus reads every row
        (["algorithm.kl_coef=0.1"], True),  # so does a KL term in the loss
        (["algorithm.kl_coef=0.1", "algorithm.kl_in_reward=true"], True),  # or in the reward
        ([], True),  # and a KL only logged (kl_coef 0, rl.track_kl): its metric covers every row
    ],
)
def test_every_row_is_forwarded_where_the_rows_count(setup, overrides, ref, monkeypatch):
    _, m, seen = _run(setup, overrides, ref=ref, monkeypatch=monkeypatch)
    assert sorted(seen) == list(range(12)) and m["actor/trained_rows"] == 1.0
    if ref:
        assert "actor/kl" in m


def test_a_loss_without_the_trait_gets_every_row(setup, monkeypatch):
    entry = POLICY_LOSSES.entry("pg")
    monkeypatch.setitem(POLICY_LOSSES._items, "pg", dataclasses.replace(entry, traits=frozenset()))
    _, _, seen = _run(setup, ["algorithm.policy_loss=pg"], monkeypatch=monkeypatch)
    assert sorted(seen) == list(range(12))


@pytest.mark.parametrize("name", sorted(POLICY_LOSSES.names()))
def test_built_in_losses_are_zero_with_zero_gradient_at_zero_advantage(name):
    """The trait's promise, per loss, with ratios far from 1 (clips and gates active)."""
    assert ADVANTAGE_WEIGHTED in POLICY_LOSSES.entry(name).traits
    gen = torch.Generator().manual_seed(1)
    logp = (-torch.rand(6, 5, generator=gen, dtype=torch.float64) * 3).requires_grad_()
    old = logp.detach() + torch.randn(6, 5, generator=gen, dtype=torch.float64)
    mask = torch.ones(6, 5, dtype=torch.float64)
    adv = torch.tensor([0.0, 1.0, -1.0, 0.0, 2.0, -0.5], dtype=torch.float64)
    loss_mat, _ = POLICY_LOSSES.get(name)(logp, old, adv, mask)
    (grad,) = torch.autograd.grad(loss_mat.sum(), logp)
    zero = adv == 0
    assert loss_mat[zero].abs().max() == 0 and grad[zero].abs().max() == 0
    assert grad[~zero].abs().max() > 0  # the other rows do learn


def test_rows_to_train_keeps_one_row_of_each_uncovered_kind():
    adv = torch.tensor([0.0, 0.0, 0.0, 0.0, 2.0, 0.0])
    mask = torch.ones(6, 3)
    kinds = ["text", "text", "img", "img", "img", "video"]
    # text and video have no informative row: their first rows stay; img is covered by row 4
    assert rows_to_train(list(range(6)), adv, mask, kinds) == [0, 4, 5]
    assert rows_to_train([3, 2, 1], adv, mask, kinds) == [3, 1]  # first in the slice's order
    nan = torch.tensor([float("nan"), 0.0, 0.0, 0.0, 0.0, 0.0])
    assert rows_to_train(list(range(6)), nan, mask, kinds) == [0, 2, 5]  # NaN is not zero


def test_input_kinds_follow_the_batch(setup):
    _, _, batch, *_ = setup
    assert input_kinds(batch) == [(True, False, False)] * 12
    text = dataclasses.replace(
        batch, images_per_row=[0] * 6 + [1] * 6, audios_per_row=[1] + [0] * 11
    )
    kinds = input_kinds(text)
    assert kinds[0] == (False, False, True) and kinds[1] == (False, False, False)
    assert kinds[6] == (True, False, False)


def test_old_logprobs_are_computed_for_the_given_rows_only(setup, monkeypatch):
    model, family, batch, _, _ = setup
    seen: list[int] = []
    forward = update.forward_rows
    monkeypatch.setattr(
        update, "forward_rows", lambda *a, **k: seen.extend(a[3]) or forward(*a, **k)
    )
    with torch.no_grad():
        want = policy_logprobs(model, family, batch, temp=1.0)
        seen.clear()
        old, computed = rollout_policy_logprobs(
            model, family, batch, INFORMATIVE, temp=1.0, micro_batch_size=3
        )
        assert seen == INFORMATIVE
        every, none = rollout_policy_logprobs(model, family, batch, None, temp=1.0)
    assert computed.tolist() == [r in INFORMATIVE for r in range(12)]
    torch.testing.assert_close(old[INFORMATIVE], want[INFORMATIVE], rtol=1e-9, atol=1e-12)
    assert (old[[r for r in range(12) if r not in INFORMATIVE]] == 0).all()
    assert none is None and torch.equal(every, want)
    no_rows, computed = rollout_policy_logprobs(model, family, batch, [], temp=1.0)
    assert no_rows.dtype == want.dtype and no_rows.shape == want.shape
    assert (no_rows == 0).all() and not computed.any()


def _update(setup, old, old_rows, advantages, overrides=()):
    """Parameters and metrics after one ``update_policy`` (2 epochs x 2 mini-batches) from a
    copy of the setup's model."""
    model, family, batch, _, _ = setup
    model = copy.deepcopy(model)
    cfg = load_config(
        None,
        ["rollout.max_new_tokens=10", "algorithm.ppo_epochs=2", "algorithm.mini_batches=2",
         *overrides],
    )  # fmt: skip
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    torch.manual_seed(3)  # the mini-batch shuffles
    m = update_policy(
        cfg, make_objective(cfg.algorithm), model, opt, batch, advantages,
        batch.completion_mask, family, old_logp=old, ref_logp=None, kl_coef=0.0,
        old_rows=old_rows,
    )  # fmt: skip
    return dict(model.named_parameters()), m


def test_an_update_from_the_informative_rows_old_logprobs_is_the_same(setup):
    """Off-policy epochs: the old log-probs of the rows the update leaves out are never read."""
    _, _, _, adv, old = setup
    start = {n: p.detach().clone() for n, p in setup[0].named_parameters()}
    want, want_m = _update(setup, old, None, adv)
    partial = old.clone()
    partial[[r for r in range(12) if r not in INFORMATIVE]] = 0.0
    rows = torch.tensor([r in INFORMATIVE for r in range(12)])
    got, got_m = _update(setup, partial, rows, adv)
    moved = max((want[n] - start[n]).abs().max().item() for n in want)
    assert moved > 1e-4  # the updates did move the policy
    for n, p in want.items():
        assert (got[n] - p).abs().max().item() <= REL_TOL * moved, n
    assert got_m["actor/loss"] == pytest.approx(want_m["actor/loss"], rel=1e-8, abs=1e-12)


def test_a_kept_row_without_old_logprobs_reads_ratio_one(setup):
    """All advantages 0: each slice keeps one row, whose old log-prob was not computed (0 in
    the tensor); it is taken at ratio 1, not exp(logp - 0)."""
    _, _, batch, _, old = setup
    zeros = torch.zeros(12, dtype=torch.float64)
    nothing = torch.zeros(12, dtype=torch.bool)
    _, m = _update(setup, torch.zeros_like(old), nothing, zeros)
    assert m["actor/trained_rows"] == pytest.approx(1 / 6)  # one row of each 6-row slice
    assert m["actor/ratio_mean"] == 1.0 and m["actor/ratio_min"] == 1.0


def test_train_rl_computes_old_logprobs_of_informative_rows_only(tmp_path, monkeypatch):
    """ppo_epochs 2 on the digit task, where many groups score alike: the rollout-policy pass
    gets the rows with a nonzero advantage; with the skip off or a KL reference, every row."""
    calls: list[list[int] | None] = []
    inner = rl.rollout_policy_logprobs
    monkeypatch.setattr(
        rl, "rollout_policy_logprobs", lambda *a, **k: calls.append(a[3]) or inner(*a, **k)
    )
    run_digit_task(tmp_path / "skip", "algorithm.ppo_epochs=2", steps=3)
    assert len(calls) == 3 and all(c is not None for c in calls)
    assert any(len(c) < 64 for c in calls) and all(len(c) % 2 == 0 for c in calls)
    calls.clear()
    run_digit_task(
        tmp_path / "all", "algorithm.ppo_epochs=2", "rl.skip_zero_advantage=false", steps=2
    )
    assert calls == [None, None]
