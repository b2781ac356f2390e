"""KL estimators and controllers: hand-computed values and the estimators' known properties."""

from __future__ import annotations

import math

import pytest
import torch

from mmrft.algorithms.kl import KL_ESTIMATORS, AdaptiveKLController, FixedKLController

T = torch.tensor


def test_registry_names():
    assert KL_ESTIMATORS.names() == ["k1", "k2", "k3"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("k1", 0.5),  # logp - ref = -1.0 - (-1.5) = 0.5
        ("k2", 0.125),  # 0.5 * 0.5^2
        ("k3", math.exp(-0.5) + 0.5 - 1),  # log_r = ref - logp = -0.5: e^-0.5 + 0.5 - 1 = 0.1065
    ],
)
def test_estimators_hand_computed(name, expected):
    kl = KL_ESTIMATORS.get(name)(T([[-1.0]]), T([[-1.5]]))
    assert kl.shape == (1, 1)
    assert kl.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("name", ["k1", "k2", "k3"])
def test_zero_when_policies_agree(name):
    logp = torch.randn(3, 4)
    assert (KL_ESTIMATORS.get(name)(logp, logp) == 0).all()


def test_k2_k3_nonnegative():
    g = torch.Generator().manual_seed(0)
    logp, ref = torch.randn(50, 7, generator=g), torch.randn(50, 7, generator=g)
    assert (KL_ESTIMATORS.get("k2")(logp, ref) >= 0).all()
    assert (KL_ESTIMATORS.get("k3")(logp, ref) >= 0).all()


def test_k1_and_k3_are_unbiased_for_true_kl():
    # sample x ~ p from two categoricals; the sample means of k1 and k3 approach KL(p || q)
    g = torch.Generator().manual_seed(0)
    p = torch.tensor([0.5, 0.3, 0.2])
    q = torch.tensor([0.3, 0.3, 0.4])
    true_kl = (p * (p / q).log()).sum().item()  # 0.1167
    x = torch.multinomial(p, 200_000, replacement=True, generator=g)
    logp, ref = p.log()[x][None], q.log()[x][None]  # [1, 200000]
    for name in ("k1", "k3"):
        assert KL_ESTIMATORS.get(name)(logp, ref).mean().item() == pytest.approx(true_kl, abs=5e-3)


def test_fixed_controller_never_moves():
    ctl = FixedKLController(0.05)
    ctl.update(current_kl=10.0, n_steps=1000)
    assert ctl.value == 0.05


def test_adaptive_controller_hand_computed():
    # target 6, horizon 10000, n_steps 100
    ctl = AdaptiveKLController(init_beta=0.1, target=6.0, horizon=10_000)
    ctl.update(
        current_kl=6.6, n_steps=100
    )  # e = 6.6/6 - 1 = 0.1 -> beta *= 1 + 0.1 * 100/10000 = 1.001
    assert ctl.value == pytest.approx(0.1 * 1.001)
    ctl.update(current_kl=60.0, n_steps=100)  # e = 9 -> clipped to 0.2 -> beta *= 1.002
    assert ctl.value == pytest.approx(0.1 * 1.001 * 1.002)
    ctl.update(current_kl=0.0, n_steps=100)  # e = -1 -> clipped to -0.2 -> beta *= 0.998
    assert ctl.value == pytest.approx(0.1 * 1.001 * 1.002 * 0.998)


def test_adaptive_controller_rejects_nonpositive_target():
    with pytest.raises(ValueError):
        AdaptiveKLController(0.1, target=0.0, horizon=100)
