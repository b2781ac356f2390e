"""A NaN/inf loss or gradient skips that update (weights untouched), is logged, and too many in a
row stop the run with a clear error."""

from __future__ import annotations

import pytest
import torch

from mmrft.build import make_objective
from mmrft.config import load_config
from mmrft.models import family_for
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.update import NonFiniteGuard, NonFiniteUpdates, update_policy


def test_the_guard_counts_in_a_row_and_resets_on_a_finite_update():
    guard, m = NonFiniteGuard(limit=2), {}
    guard.check(False, m)
    assert m["actor/nonfinite"] == 1.0 and guard.in_a_row == 1
    guard.check(True, m)
    assert m["actor/nonfinite"] == 0.0 and guard.in_a_row == 0
    guard.check(False, m)
    with pytest.raises(NonFiniteUpdates, match="rl.max_nonfinite_updates"):
        guard.check(False, m)


def test_a_nan_advantage_skips_the_update_and_keeps_the_weights(fresh_vlm, count_samples):
    model, processor = fresh_vlm
    family = family_for(model.config.model_type, processor)
    batch = HFSampler(model, family).generate(
        count_samples[:2], SamplingParams(n=2, max_new_tokens=4, seed=0)
    )
    cfg = load_config(None, ["rollout.max_new_tokens=4"])
    opt, _ = make_optimizer(model, 1e-2, 0.0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    guard = NonFiniteGuard(limit=2)
    advantages = torch.tensor([1.0, float("nan"), -1.0, 0.5])
    run = lambda: update_policy(  # noqa: E731
        cfg, make_objective(cfg.algorithm), model, opt, batch, advantages,
        batch.completion_mask, family, old_logp=None, ref_logp=None, kl_coef=0.0, guard=guard,
    )  # fmt: skip
    metrics = run()
    assert metrics["actor/nonfinite"] == 1.0
    assert all(torch.equal(before[n], p) for n, p in model.named_parameters())
    assert not opt.state  # AdamW never stepped: no moments polluted by NaN
    with pytest.raises(NonFiniteUpdates):
        run()
