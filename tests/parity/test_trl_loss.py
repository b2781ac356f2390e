"""Parity with TRL's GRPOTrainer loss on identical tensors.

The reference is TRL's own ``GRPOTrainer._compute_loss``, called unbound on a stand-in object
that carries only the attributes it reads; its log-prob function is replaced by one returning
our tensors, so no model is built. Both the scalar loss and d(loss)/d(logp) must agree.

TRL loss_type -> mmrft (policy_loss, loss_agg_mode), single process, no grad accumulation:

    TRL                                    mmrft
    grpo                                   ppo_clip, seq-mean-token-mean
    bnpo                                   ppo_clip, token-mean
    dapo (num_items_in_batch = #tokens)    ppo_clip, token-mean
    dr_grpo                                ppo_clip, seq-mean-token-sum-norm, max_len=max_completion_length
    grpo/bnpo/dapo/dr_grpo + sequence IS   gspo, same mode as above
    luspo (sequence IS)                    gspo, seq-mean-token-sum
    cispo                                  cispo(clip_high = epsilon_high - 1), token-mean
    sapo                                   sapo(tau_pos, tau_neg), seq-mean-token-mean
    epsilon / epsilon_high                 clip_low / clip_high
    delta (> 1 + epsilon_high)             dual_clip = delta
    beta * per_token_kl inside the sum     + beta * agg_loss(k3(logp, ref), mask, same mode)

Intentional differences (documented, not tested): TRL's cispo ``epsilon_high`` is the
absolute bound on the weight, ours is 1 + clip_high; TRL's GRPO advantages use eps=1e-4
(ours default 1e-6, see test_trl_advantages.py); ``vespo`` has no mmrft counterpart; TRL's
``dapo``/``cispo`` normaliser spans the whole generation batch across accumulation steps and
processes, which in a single-process, single-step call is exactly ``token-mean``.
"""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import pytest
import torch

from mmrft.algorithms import KL_ESTIMATORS, POLICY_LOSSES, agg_loss

grpo_trainer = pytest.importorskip("trl.trainer.grpo_trainer")

N, L, MAX_LEN = 6, 7, 9  # MAX_LEN > L: the Dr.GRPO constant is the configured max length


class _OneProcessAccelerator:
    num_processes = 1

    def reduce(self, x, reduction="sum"):
        return x

    def gather(self, x):
        return x

    gather_for_metrics = gather


def _inputs(seed: int = 2) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([7, 3, 5, 1, 6, 4])  # ragged completions
    mask = (torch.arange(L)[None, :] < lengths[:, None]).float()  # [N, L]
    old = -torch.rand(N, L, generator=g) * 3  # [N, L]
    logp = old + torch.randn(N, L, generator=g) * 0.5  # [N, L] ratios around e^{+-0.5}: some clip
    return {
        "logp": logp,
        "old": old,
        "ref": old + torch.randn(N, L, generator=g) * 0.2,
        "adv": torch.randn(N, generator=g),
        "mask": mask,
    }


def _trl_loss(
    t, loss_type, *, level="token", eps=0.2, eps_high=0.28, beta=0.0, delta=None, tau=(1.0, 1.05)
):
    """Run TRL's _compute_loss on our tensors; return (loss, d loss / d logp, metrics)."""
    logp = t["logp"].clone().requires_grad_(True)
    fake = SimpleNamespace(
        _get_per_token_logps_and_entropies=lambda *a, **k: (logp, torch.zeros(N, L), None),
        top_entropy_quantile=1.0,
        off_policy_mask_threshold=None,
        importance_sampling_level=level,
        beta=beta,
        loss_type=loss_type,
        epsilon_low=eps,
        epsilon_high=eps_high,
        use_vllm=False,
        vllm_importance_sampling_correction=False,
        aux_loss_enabled=False,
        _entropy_bonus_enabled=False,
        max_completion_length=MAX_LEN,
        current_gradient_accumulation_steps=1,
        model=SimpleNamespace(training=True),
        accelerator=_OneProcessAccelerator(),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        args=SimpleNamespace(
            use_bias_correction_kl=False,
            delta=delta,
            sapo_temperature_pos=tau[0],
            sapo_temperature_neg=tau[1],
            steps_per_generation=1,
        ),
    )
    inputs = {
        "prompt_ids": torch.zeros(N, 2, dtype=torch.long),
        "prompt_mask": torch.ones(N, 2),
        "completion_ids": torch.zeros(N, L, dtype=torch.long),
        "completion_mask": t["mask"],
        "advantages": t["adv"],
        "old_per_token_logps": t["old"],
        "ref_per_token_logps": t["ref"],
        "num_items_in_batch": t["mask"].sum(),
    }
    loss = grpo_trainer.GRPOTrainer._compute_loss(fake, None, inputs)
    (grad,) = torch.autograd.grad(loss, logp)
    return loss.detach(), grad, fake._metrics["train"]


def _ours(t, loss_name, mode, *, beta=0.0, max_len=None, **opts):
    logp = t["logp"].clone().requires_grad_(True)
    loss_mat, metrics = POLICY_LOSSES.get(loss_name)(logp, t["old"], t["adv"], t["mask"], **opts)
    loss = agg_loss(loss_mat, t["mask"], mode, max_len=max_len)
    if beta:
        kl_mat = KL_ESTIMATORS.get("k3")(logp, t["ref"])
        loss = loss + beta * agg_loss(kl_mat, t["mask"], mode, max_len=max_len)
    (grad,) = torch.autograd.grad(loss, logp)
    return loss.detach(), grad, metrics


# (TRL loss_type, importance level, our loss, our mode, our max_len)
CASES = [
    ("grpo", "token", "ppo_clip", "seq-mean-token-mean", None),
    ("bnpo", "token", "ppo_clip", "token-mean", None),
    ("dapo", "token", "ppo_clip", "token-mean", None),
    ("dr_grpo", "token", "ppo_clip", "seq-mean-token-sum-norm", MAX_LEN),
    ("grpo", "sequence", "gspo", "seq-mean-token-mean", None),
    ("bnpo", "sequence", "gspo", "token-mean", None),
    ("dapo", "sequence", "gspo", "token-mean", None),
    ("dr_grpo", "sequence", "gspo", "seq-mean-token-sum-norm", MAX_LEN),
    ("luspo", "sequence", "gspo", "seq-mean-token-sum", None),
]


@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize(("trl_type", "level", "ours", "mode", "max_len"), CASES)
def test_clipped_losses_match_trl(trl_type, level, ours, mode, max_len, beta):
    t = _inputs()
    ref_loss, ref_grad, ref_metrics = _trl_loss(t, trl_type, level=level, beta=beta)
    loss, grad, metrics = _ours(
        t, ours, mode, beta=beta, max_len=max_len, clip_low=0.2, clip_high=0.28
    )
    torch.testing.assert_close(loss, ref_loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grad, ref_grad, atol=1e-6, rtol=1e-6)
    if level == "token":  # TRL's clip fractions use the same "gradient removed" definition
        assert metrics["actor/clipfrac_low"] == pytest.approx(ref_metrics["clip_ratio/low_mean"][0])
        assert metrics["actor/clipfrac_high"] == pytest.approx(
            ref_metrics["clip_ratio/high_mean"][0]
        )


def test_inputs_exercise_both_clips():
    # guard: the parity above is only meaningful if some tokens are actually clipped
    for loss in ("ppo_clip", "gspo"):
        _, _, m = _ours(_inputs(), loss, "token-mean", clip_low=0.2, clip_high=0.28)
        assert m["actor/clipfrac_low"] > 0 and m["actor/clipfrac_high"] > 0, loss


@pytest.mark.parametrize("beta", [0.0, 0.04])
def test_cispo_matches_trl(beta):
    t = _inputs(1)
    ref_loss, ref_grad, _ = _trl_loss(t, "cispo", eps_high=1.3, beta=beta)  # TRL: absolute bound
    loss, grad, _ = _ours(t, "cispo", "token-mean", beta=beta, clip_high=0.3)  # ours: 1 + 0.3
    torch.testing.assert_close(loss, ref_loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grad, ref_grad, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.04])
@pytest.mark.parametrize("tau", [(1.0, 1.05), (0.5, 2.0)])
def test_sapo_matches_trl(tau, beta):
    t = _inputs(4)
    ref_loss, ref_grad, _ = _trl_loss(t, "sapo", tau=tau, beta=beta)
    loss, grad, _ = _ours(
        t, "sapo", "seq-mean-token-mean", beta=beta, tau_pos=tau[0], tau_neg=tau[1]
    )
    torch.testing.assert_close(loss, ref_loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grad, ref_grad, atol=1e-6, rtol=1e-6)


def test_trl_delta_equals_dual_clip():
    t = _inputs(3)
    t["logp"] = t["old"] + torch.linspace(-1.5, 1.5, N * L).view(N, L)  # ratios up to e^1.5 = 4.5
    ref_loss, ref_grad, _ = _trl_loss(t, "bnpo", delta=2.0)
    loss, grad, m = _ours(t, "ppo_clip", "token-mean", clip_low=0.2, clip_high=0.28, dual_clip=2.0)
    assert m["actor/clipfrac_dual"] > 0  # the dual clip binds somewhere
    torch.testing.assert_close(loss, ref_loss, atol=1e-6, rtol=1e-6)
    torch.testing.assert_close(grad, ref_grad, atol=1e-6, rtol=1e-6)
