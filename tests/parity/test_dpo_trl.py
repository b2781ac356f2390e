"""Parity of the preference losses with TRL 1.16 on identical log-probs (1e-6).

References, each TRL's own code called on our tensors, no model built:

* dpo / ipo: ``DPOTrainer._compute_loss`` (loss_type "sigmoid" / "ipo"), called unbound on a
  stand-in object carrying only the attributes it reads, with ``precompute_ref_logps=True`` (the
  reference log-probs come in the inputs) and a stand-in model whose output ``log_probs`` are
  our per-token log-probs (0 at padding), so TRL sums them itself. Both the loss and
  d(loss)/d(per-token log-probs) must agree.
* simpo: ``CPOTrainer.cpo_loss`` (loss_type "simpo", alpha 0, no label smoothing) on the
  length-averaged log-probs, as CPOTrainer feeds it for SimPO. TRL subtracts
  ``simpo_gamma / beta`` before scaling by beta, so its ``simpo_gamma`` is our ``gamma``.
* orpo: ``ORPOTrainer.odds_ratio_loss`` on the average log-probs gives the odds-ratio term
  (``lam * log sigma(log OR)``, per pair); TRL's NLL term is a token-mean over the whole batch's
  chosen tokens, ours a per-pair token mean, which agree when every chosen completion has the
  same length (the case compared here).

TRL's loss is the batch mean; ours is per pair, so the comparison is against ``loss.mean()``.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from mmrft.algorithms.preference import PREFERENCE_LOSSES

dpo_trainer = pytest.importorskip("trl.trainer.dpo_trainer")

B, L = 5, 6


class _OneProcessAccelerator:
    device = torch.device("cpu")

    def gather(self, x):
        return x

    gather_for_metrics = gather


def _tokens(seed: int = 3, equal_lengths: bool = False) -> dict[str, torch.Tensor]:
    """Per-token policy/reference log-probs [2B, L] for [chosen; rejected], 0 at padding."""
    g = torch.Generator().manual_seed(seed)
    lengths = (
        torch.full((2 * B,), L) if equal_lengths else torch.tensor([6, 2, 4, 1, 5, 3, 6, 2, 5, 4])
    )
    mask = (torch.arange(L)[None, :] < lengths[:, None]).to(torch.float64)  # [2B, L]
    ref = -torch.rand(2 * B, L, generator=g, dtype=torch.float64) * 2 * mask  # [2B, L]
    policy = (ref + 0.4 * torch.randn(2 * B, L, generator=g, dtype=torch.float64)) * mask
    return {"policy": policy, "ref": ref, "mask": mask}


def _ours(name: str, policy: torch.Tensor, t: dict, **opts) -> torch.Tensor:
    sums, ref_sums, n = policy.sum(1), t["ref"].sum(1), t["mask"].sum(1)  # [2B]
    loss, _ = PREFERENCE_LOSSES.get(name)(
        sums[:B], sums[B:], ref_sums[:B], ref_sums[B:], n[:B], n[B:], **opts
    )
    return loss.mean()


def _trl_dpo(loss_type: str, policy: torch.Tensor, t: dict, beta: float) -> torch.Tensor:
    """TRL's DPOTrainer._compute_loss on our per-token log-probs (see the module note)."""
    mask = t["mask"]
    # TRL's completion_mask spans prompt+completion; its shifted [:, 1:] lines up with log_probs.
    completion_mask = torch.cat([torch.zeros(2 * B, 1, dtype=mask.dtype), mask], dim=1)

    def model(**kwargs):
        return SimpleNamespace(
            log_probs=policy,
            entropy=torch.zeros_like(policy),
            mean_logits=torch.zeros_like(policy),
            is_top1=torch.zeros_like(policy, dtype=torch.bool),
        )

    model.training = True
    ref_sums = t["ref"].sum(1)
    fake = SimpleNamespace(
        model=model,
        accelerator=_OneProcessAccelerator(),
        aux_loss_enabled=False,
        ld_alpha=None,
        precompute_ref_logps=True,
        f_divergence_type="reverse_kl",
        loss_types=[loss_type],
        loss_weights=[1.0],
        beta=beta,
        use_weighting=False,
        label_smoothing=0.0,
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        _total_train_tokens=0,
        _tp_size=1,
    )
    inputs = {
        "input_ids": torch.zeros(2 * B, L + 1, dtype=torch.long),
        "attention_mask": torch.ones(2 * B, L + 1, dtype=torch.long),
        "completion_mask": completion_mask,
        "ref_chosen_logps": ref_sums[:B],
        "ref_rejected_logps": ref_sums[B:],
    }
    return dpo_trainer.DPOTrainer._compute_loss(fake, model, inputs, return_outputs=False)


@pytest.mark.parametrize(("name", "trl_type"), [("dpo", "sigmoid"), ("ipo", "ipo")])
@pytest.mark.parametrize("beta", [0.1, 0.5])
def test_dpo_ipo_match_trl_loss_and_gradient(name, trl_type, beta):
    t = _tokens()
    ours_p = t["policy"].clone().requires_grad_(True)
    trl_p = t["policy"].clone().requires_grad_(True)
    ours = _ours(name, ours_p * t["mask"], t, beta=beta)
    theirs = _trl_dpo(trl_type, trl_p, t, beta)
    assert ours.item() == pytest.approx(theirs.item(), abs=1e-6)
    ours.backward()
    theirs.backward()
    torch.testing.assert_close(ours_p.grad * t["mask"], trl_p.grad * t["mask"], atol=1e-6, rtol=0)


@pytest.mark.parametrize(("beta", "gamma"), [(2.0, 1.0), (2.5, 0.3)])
def test_simpo_matches_trl_cpo_simpo(beta, gamma):
    cpo = pytest.importorskip("trl.experimental.cpo.cpo_trainer")
    t = _tokens(seed=5)
    avg = t["policy"].sum(1) / t["mask"].sum(1)  # [2B] what CPOTrainer feeds SimPO
    fake = SimpleNamespace(
        alpha=0.0,
        beta=beta,
        simpo_gamma=gamma,
        loss_type="simpo",
        label_smoothing=0.0,
        accelerator=_OneProcessAccelerator(),
    )
    losses, chosen_r, rejected_r = cpo.CPOTrainer.cpo_loss(fake, avg[:B], avg[B:])
    ours_vec, m = PREFERENCE_LOSSES.get("simpo")(
        t["policy"].sum(1)[:B],
        t["policy"].sum(1)[B:],
        None,
        None,
        t["mask"].sum(1)[:B],
        t["mask"].sum(1)[B:],
        beta=beta,
        gamma=gamma,
    )
    torch.testing.assert_close(ours_vec, losses, atol=1e-6, rtol=0)
    assert m["dpo/chosen_reward"] == pytest.approx(chosen_r.mean().item(), abs=1e-6)
    assert m["dpo/rejected_reward"] == pytest.approx(rejected_r.mean().item(), abs=1e-6)


def test_orpo_matches_trl_odds_ratio_and_nll():
    orpo = pytest.importorskip("trl.experimental.orpo.orpo_trainer")
    t = _tokens(seed=7, equal_lengths=True)  # TRL's NLL is a batch token-mean: equal lengths
    lam = 0.2
    sums, n = t["policy"].sum(1), t["mask"].sum(1)  # [2B]
    avg = sums / n  # [2B] average log-probs (ORPOTrainer's average_log_prob=True)
    fake = SimpleNamespace(beta=lam, accelerator=_OneProcessAccelerator())
    or_losses, *_ = orpo.ORPOTrainer.odds_ratio_loss(fake, avg[:B], avg[B:])
    trl_nll = -t["policy"][:B][t["mask"][:B].bool()].mean()  # token-mean over chosen tokens
    trl_loss = trl_nll - or_losses.mean()  # ORPOTrainer: loss = nll - mean(beta * log sigma)
    ours_vec, m = PREFERENCE_LOSSES.get("orpo")(
        sums[:B], sums[B:], None, None, n[:B], n[B:], lam=lam
    )
    assert ours_vec.mean().item() == pytest.approx(trl_loss.item(), abs=1e-6)
    assert m["dpo/nll"] == pytest.approx(trl_nll.item(), abs=1e-6)
