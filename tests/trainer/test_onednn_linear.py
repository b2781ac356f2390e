"""The update's linear layers through oneDNN (``trainer/onednn_linear.py``): outputs and all
three gradients equal ``F.linear``'s autograd to float32 rounding, only large plain layers
switched and switched back (also on an error), the fallbacks, and a whole ``update_policy``
step that moves the weights as the MKL path does."""

from __future__ import annotations

import copy

import pytest
import torch

import mmrft.rollout.packed_weights as pw
from mmrft.build import make_objective
from mmrft.config import load_config
from mmrft.data.sample import Sample
from mmrft.dataclass_yaml import ConfigError
from mmrft.models import family_for
from mmrft.models.tiny import TINY_MODELS
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer.onednn_linear import OneDnnLinear, OneDnnLinearFunction, onednn_linears
from mmrft.trainer.update import update_policy

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="this torch build has no oneDNN"
)


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal to float32 rounding of sums over a few hundred to a few thousand products."""
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5 * b.abs().max().item())


def _run(layer: torch.nn.Linear, x: torch.Tensor, dy: torch.Tensor) -> list[torch.Tensor]:
    """Output and the gradients of x, weight and bias for upstream gradient ``dy``."""
    x = x.detach().requires_grad_(True)
    layer.zero_grad(set_to_none=True)
    y = layer(x)
    y.backward(dy)
    out = [y.detach(), x.grad, layer.weight.grad]
    return out + ([layer.bias.grad] if layer.bias is not None else [])


@pytest.mark.parametrize("bias", [True, False])
def test_outputs_and_gradients_equal_f_linear(bias):
    torch.manual_seed(0)
    layer = torch.nn.Linear(512, 384, bias=bias)
    net = torch.nn.Sequential(layer)
    xs = [
        torch.randn(7, 512),  # [tokens, in]
        torch.randn(4, 6, 512),  # [batch, seq, in]
        torch.randn(6, 4, 512).transpose(0, 1),  # not contiguous
    ]
    for x in xs:
        dy = torch.randn(*x.shape[:-1], 384)
        want = _run(layer, x, dy)  # plain nn.Linear: F.linear and torch's own backward
        with onednn_linears(net, True) as n:
            assert n == 1 and type(layer) is OneDnnLinear
            got = _run(layer, x, dy)
        assert type(layer) is torch.nn.Linear
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g.shape == w.shape and _close(g, w)


def test_the_function_runs_and_frozen_weights_get_no_gradient(monkeypatch):
    """A LoRA base layer: frozen weight, the input's gradient still flows (through oneDNN)."""
    calls = []
    backward = OneDnnLinearFunction.backward

    def counting(ctx, grad):
        calls.append(ctx.needs_input_grad)
        return backward(ctx, grad)

    monkeypatch.setattr(OneDnnLinearFunction, "backward", staticmethod(counting))
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(512, 512))
    net[0].weight.requires_grad_(False)
    net[0].bias.requires_grad_(False)
    x = torch.randn(3, 512, requires_grad=True)
    with onednn_linears(net, True):
        net(x).sum().backward()
    assert calls == [(True, False, False)]
    assert net[0].weight.grad is None and net[0].bias.grad is None
    assert _close(x.grad, net[0].weight.sum(0).expand(3, 512))  # d sum(xW^T+b)/dx = 1 @ W


def test_only_large_plain_float32_layers_are_switched():
    class Subclass(torch.nn.Linear):  # e.g. a quantized layer: its own forward, left alone
        pass

    net = torch.nn.ModuleDict(
        {
            "big": torch.nn.Linear(512, 256),  # exactly 2^17 weights
            "small": torch.nn.Linear(362, 362),  # just under
            "sub": Subclass(512, 512),
            "float64": torch.nn.Linear(512, 512).double(),
        }
    )
    with onednn_linears(net, True) as n:
        assert n == 1
        assert [k for k, m in net.items() if type(m) is OneDnnLinear] == ["big"]
    with onednn_linears(net, False) as n:
        assert n == 0 and type(net["big"]) is torch.nn.Linear


def test_switch_undone_on_error():
    net = torch.nn.Sequential(torch.nn.Linear(512, 512))
    with pytest.raises(RuntimeError, match="boom"), onednn_linears(net, True):
        raise RuntimeError("boom")
    assert type(net[0]) is torch.nn.Linear


def test_autocast_and_other_dtypes_take_f_linear():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(512, 512))
    x = torch.randn(2, 512)
    with onednn_linears(net, True):
        with torch.autocast("cpu", dtype=torch.bfloat16):  # mixed precision: autocast's bf16
            y = net(x)
        assert y.dtype == torch.bfloat16
        y.float().sum().backward()
        assert net[0].weight.grad is not None
        x64 = torch.randn(2, 512, dtype=torch.float64)  # oneDNN's linear has no float64
        assert net[0](x64.float()).dtype == torch.float32


def test_mode_names_its_key(monkeypatch):
    monkeypatch.setattr(pw, "cpu_vendor", lambda: "AuthenticAMD")
    assert pw.onednn_enabled("auto", "rl.onednn_matmul")
    with pytest.raises(ValueError, match="rl.onednn_matmul"):
        pw.onednn_enabled("sometimes", "rl.onednn_matmul")
    with pytest.raises(ConfigError, match="onednn_matmul"):
        load_config(None, ["rl.onednn_matmul=sometimes"])


def test_update_step_equals_the_mkl_path(monkeypatch):
    """One ``update_policy`` step of a 512-wide Qwen2 on a real rollout: the same loss,
    gradient norm and gradients as the MKL path, every large layer went through oneDNN, and
    the layers are plain again afterwards (the next rollout packs them)."""
    model, processor = TINY_MODELS.get("tiny-qwen2")(0, hidden_size=512, num_layers=2, num_heads=8)
    family = family_for(model.config.model_type, processor)
    samples = [
        Sample(id="a", prompt="Say a number.", answer="1"),
        Sample(id="b", prompt="Hi!", answer=""),
    ]
    batch = HFSampler(model, family, onednn_weights="never").generate(
        samples, SamplingParams(n=4, temperature=1.0, max_new_tokens=10, seed=0)
    )
    advantages = torch.tensor([1.0, -1.0, 0.5, -0.5, 0.0, 1.0, -1.0, 0.0])
    mask = batch.completion_mask.float()
    calls = []
    forward = OneDnnLinearFunction.forward

    def counting(ctx, x, weight, bias):
        calls.append(weight)
        return forward(ctx, x, weight, bias)

    monkeypatch.setattr(OneDnnLinearFunction, "forward", staticmethod(counting))
    results = {}
    for mode in ("never", "always"):
        cfg = load_config(None, [f"rl.onednn_matmul={mode}", "rl.lr=1e-3", "rl.max_grad_norm=1e9"])
        net = copy.deepcopy(model)
        large = {id(m.weight) for m in net.modules() if pw.eligible_linear(m)}
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        metrics = update_policy(
            cfg, make_objective(cfg.algorithm), net, opt, batch, advantages, mask, family,
            old_logp=None, ref_logp=None, kl_coef=0.0,
        )  # fmt: skip
        assert all(type(m) is not OneDnnLinear for m in net.modules())
        results[mode] = (metrics, {n: p.grad for n, p in net.named_parameters()})
        if mode == "never":
            assert not calls
    # q, k, v, o, gate, up, down in each of the 2 layers and the (tied) LM head, 512 x 512
    assert len(large) == 2 * 7 + 1 and {id(w) for w in calls} == large
    (m_mkl, g_mkl), (m_dnn, g_dnn) = results["never"], results["always"]
    assert m_mkl["actor/grad_norm"] > 0
    assert (
        abs(m_dnn["actor/grad_norm"] - m_mkl["actor/grad_norm"]) < 1e-5 * m_mkl["actor/grad_norm"]
    )
    assert abs(m_dnn["actor/loss"] - m_mkl["actor/loss"]) < 1e-6
    assert g_dnn.keys() == g_mkl.keys() and len(g_mkl) > 15
    for n in g_mkl:  # every parameter's gradient, to float32 rounding
        assert _close(g_dnn[n], g_mkl[n]), n


@pytest.mark.parametrize("mode", ["always", "never"])
def test_train_rl_switches_for_the_no_grad_passes_too(tmp_path, monkeypatch, mode):
    """With PPO epochs and a KL reference, ``train_rl`` runs the rollout-policy and reference
    log-prob passes with the switch on (every linear layer counts as large here), and only then;
    the run trains as usual."""
    from learn_utils import components

    import mmrft.trainer.rl as rl
    from mmrft.data.stream import ProblemStream
    from mmrft.models import load_policy
    from mmrft.tasks import TASKS

    monkeypatch.setattr(pw, "MIN_WEIGHTS", 1)
    seen = []

    def recording(inner):
        def record(net, *args, **kwargs):
            seen.append(any(type(m) is OneDnnLinear for m in net.modules()))
            return inner(net, *args, **kwargs)

        return record

    for name in ("policy_logprobs", "rollout_policy_logprobs"):  # reference, rollout policy
        monkeypatch.setattr(rl, name, recording(getattr(rl, name)))
    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path}",
            "run.tensorboard=false",
            "rollout.prompts_per_step=2",
            "rollout.group_size=4",
            "rollout.max_new_tokens=6",
            "rl.steps=1",
            "rl.eval_every=100",
            "algorithm.ppo_epochs=2",
            "algorithm.kl_coef=0.05",
            f"rl.onednn_matmul={mode}",
        ],
    )
    model, processor = load_policy("tiny-qwen2", seed=0)
    family = family_for(model.config.model_type, processor)
    ref, _ = load_policy("tiny-qwen2", seed=1)
    rl.train_rl(
        cfg, model, processor, family, eval_samples=[], ref_model=ref,
        stream=ProblemStream.from_task(TASKS.get("count")(), 5, 1),
        reward_fn=lambda completions, samples: {"overall": [len(c) / 50 for c in completions]},
        **components(cfg, model, family),
    )  # fmt: skip
    assert seen == [mode == "always"] * 2  # the reference's pass, then the policy's
    assert all(type(m) is not OneDnnLinear for m in [*model.modules(), *ref.modules()])
