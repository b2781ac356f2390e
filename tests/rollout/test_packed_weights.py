"""oneDNN-packed linear weights in the HF rollout (``rollout/packed_weights.py``): the same
float32 matmul as ``F.linear`` (to float32 rounding), only large plain layers packed, the swap
undone after the rollout (also on an error), the fallbacks, and rollouts equal to unpacked ones,
including after a weight update (no stale packed copy)."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
import torch.nn.functional as F

import mmrft.rollout.packed_weights as pw
from mmrft.config import load_config
from mmrft.data.sample import Sample
from mmrft.dataclass_yaml import ConfigError
from mmrft.models import family_for
from mmrft.models.tiny import TINY_MODELS
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.rollout.packed_weights import MIN_WEIGHTS, PackedLinear, onednn_enabled, packed_weights

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="this torch build has no oneDNN"
)

SAMPLES = [
    Sample(id="a", prompt="Say a number.", answer="1"),
    Sample(id="b", prompt="Hi, how are you today?", answer=""),
]


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal to float32 rounding of a sum over a few hundred products."""
    return torch.allclose(a, b, rtol=1e-5, atol=1e-5 * b.abs().max().item())


@pytest.mark.parametrize("bias", [True, False])
def test_packed_linear_is_f_linear(bias):
    torch.manual_seed(0)
    layer = torch.nn.Linear(512, 384, bias=bias)
    net = torch.nn.Sequential(layer)
    xs = [
        torch.randn(5, 512),  # [rows, in]
        torch.randn(4, 3, 512),  # [batch, seq, in]
        torch.randn(3, 4, 512).transpose(0, 1),  # not contiguous
        torch.randn(1, 1, 512),  # one decoding row
    ]
    with torch.no_grad():
        want = [F.linear(x, layer.weight, layer.bias) for x in xs]
        with packed_weights(net, True, rows=4) as n:
            assert n == 1 and type(layer) is PackedLinear
            got = [layer(x) for x in xs]
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and _close(g, w)
    assert type(layer) is torch.nn.Linear and not hasattr(layer, "packed")


def test_only_large_plain_float32_layers_are_packed():
    class Subclass(torch.nn.Linear):  # e.g. a quantized layer: its own forward, left alone
        pass

    side = 362  # 362 * 362 = 131044 < 2^17 = 131072
    net = torch.nn.ModuleDict(
        {
            "big": torch.nn.Linear(512, 256),  # exactly 2^17 weights
            "small": torch.nn.Linear(side, side),
            "sub": Subclass(512, 512),
            "float64": torch.nn.Linear(512, 512).double(),
        }
    )
    assert MIN_WEIGHTS == 512 * 256
    with packed_weights(net, True) as n:
        assert n == 1
        assert [k for k, m in net.items() if type(m) is PackedLinear] == ["big"]
    with packed_weights(net, False) as n:  # disabled: nothing packed
        assert n == 0 and type(net["big"]) is torch.nn.Linear


def test_swap_undone_on_error():
    net = torch.nn.Sequential(torch.nn.Linear(512, 512))
    with pytest.raises(RuntimeError, match="boom"), packed_weights(net, True):
        raise RuntimeError("boom")
    assert type(net[0]) is torch.nn.Linear and not hasattr(net[0], "packed")


def test_fallbacks_take_f_linear():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(512, 512))
    layer = net[0]
    x = torch.randn(2, 512)
    with packed_weights(net, True):
        with torch.no_grad():  # the packed copy is stale after an in-block change...
            layer.weight.mul_(2.0)
            stale = layer(x)
        # ...but a graph-recording call (the update's) takes the live weights and their grads
        y = layer(x)
        assert torch.equal(y, F.linear(x, layer.weight, layer.bias))
        y.sum().backward()
        assert layer.weight.grad is not None
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):  # mixed precision
            assert layer(x).dtype == torch.bfloat16
    assert not _close(stale, F.linear(x, layer.weight, layer.bias).detach())


def test_pack_enabled_modes(monkeypatch):
    assert onednn_enabled("always") and not onednn_enabled("never")
    monkeypatch.setattr(pw, "cpu_vendor", lambda: "GenuineIntel")
    assert not onednn_enabled("auto")  # MKL's own CPUs: measured no faster, left alone
    monkeypatch.setattr(pw, "cpu_vendor", lambda: "AuthenticAMD")
    assert onednn_enabled("auto")
    monkeypatch.setattr(pw, "cpu_vendor", lambda: "")
    assert not onednn_enabled("auto")  # unknown: the default path
    with pytest.raises(ValueError, match="rollout.onednn_weights"):
        onednn_enabled("sometimes")
    with pytest.raises(ConfigError, match="onednn_weights"):
        load_config(None, ["rollout.onednn_weights=sometimes"])


def _rollouts(mode: str, monkeypatch) -> tuple:
    """Greedy and sampled rollouts of a 512-wide one-layer Qwen2, an update, and again."""
    calls = []
    forward = PackedLinear.forward

    def counting(self, x):
        calls.append(1)
        return forward(self, x)

    monkeypatch.setattr(PackedLinear, "forward", counting)
    model, processor = TINY_MODELS.get("tiny-qwen2")(0, hidden_size=512, num_layers=1, num_heads=8)
    sampler = HFSampler(model, family_for(model.config.model_type, processor), onednn_weights=mode)
    greedy = SamplingParams(n=1, temperature=0.0, max_new_tokens=8)
    sampled = SamplingParams(n=3, temperature=1.0, max_new_tokens=8, seed=0)
    out = [sampler.generate(SAMPLES, greedy), sampler.generate(SAMPLES, sampled)]
    with torch.no_grad():  # an "update": every weight moves
        for p in model.parameters():
            p.mul_(1.5)
    out.append(sampler.generate(SAMPLES, sampled))
    assert all(type(m) is not PackedLinear for m in model.modules())  # undone after each
    return out, len(calls)


def test_rollouts_equal_unpacked_ones_before_and_after_an_update(monkeypatch):
    packed, n_packed = _rollouts("always", monkeypatch)
    plain, n_plain = _rollouts("never", monkeypatch)
    assert n_packed > 0 and n_plain == 0  # the packed layers did run the rollouts
    for got, want in zip(packed, plain, strict=True):
        assert torch.equal(got.completion_ids, want.completion_ids)
        assert got.texts == want.texts
    for got, want in zip(packed[1:], plain[1:], strict=True):  # sampled: recorded log-probs
        assert torch.allclose(got.logprobs, want.logprobs, atol=1e-4)
    # the update changed the packed rollout too: it did not reuse the first rollout's packing
    assert not torch.allclose(packed[2].logprobs, packed[1].logprobs, atol=1e-3)


@pytest.mark.parametrize(("mode", "on"), [("always", True), ("never", False)])
@pytest.mark.parametrize(
    ("key", "attribute"),
    [("onednn_weights", "pack"), ("decode_attention", "fast_attention")],  # the CPU switches
)
def test_make_sampler_passes_rollout_cpu_switches(key, attribute, mode, on):
    from mmrft.build import make_sampler

    if key == "decode_attention" and shutil.which(os.environ.get("CC", "cc")) is None:
        pytest.skip("no C compiler: decode_attention=always would raise")
    cfg = load_config(None, [f"rollout.{key}={mode}"])
    model, processor = TINY_MODELS.get("tiny-qwen2")(0)
    sampler = make_sampler(cfg.rollout, model, family_for(model.config.model_type, processor))
    assert getattr(sampler, attribute) is on


BF16 = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available() or not torch.ops.mkldnn._is_mkldnn_bf16_supported(),
    reason="no oneDNN bf16 kernels for this CPU",
)


def _close_bf16(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal to bf16 rounding (8 bits of mantissa) of a float32-accumulated sum."""
    a, b = a.float(), b.float()
    return torch.allclose(a, b, rtol=2e-2, atol=2e-2 * b.abs().max().item())


def test_packing_dtype_follows_autocast():
    assert pw.packing_dtype() == torch.float32
    with torch.autocast("cpu", dtype=torch.float16):  # no packed fp16 path: plain autocast
        assert pw.packing_dtype() is None
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            assert pw.packing_dtype() == torch.bfloat16


@BF16
@pytest.mark.parametrize("bias", [True, False])
def test_bf16_packing_is_autocast_linear(bias):
    """Packed in bf16, a call under bf16 autocast computes what autocast's linear computes (bf16
    out); outside autocast the layer is plain float32 again."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(512, 384, bias=bias)
    net = torch.nn.Sequential(layer)
    xs = [torch.randn(5, 512), torch.randn(4, 3, 512), torch.randn(2, 512).bfloat16()]
    with torch.no_grad():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            want = [layer(x) for x in xs]
        with packed_weights(net, True, rows=4, dtype=torch.bfloat16) as n:
            assert n == 1 and layer.packed.dtype == torch.bfloat16
            with torch.autocast("cpu", dtype=torch.bfloat16):
                got = [layer(x) for x in xs]
                layer.weight.mul_(2.0)  # the packed copy is what runs: stale after a change
                stale = layer(xs[0])
                layer.weight.div_(2.0)
            x = torch.randn(3, 512)  # no autocast: float32, the live weights, exact
            assert torch.equal(layer(x), F.linear(x, layer.weight, layer.bias))
    for g, w in zip(got, want, strict=True):
        assert g.dtype == torch.bfloat16 and g.shape == w.shape and _close_bf16(g, w)
    assert torch.equal(stale, got[0])
    assert type(layer) is torch.nn.Linear and not hasattr(layer, "packed")


@BF16
def test_bf16_rollout_packs_in_bf16_and_keeps_the_logits(monkeypatch):
    """A bf16-autocast rollout packs its weights in bf16 and runs them; a forward through them
    gives autocast's logits to bf16 rounding."""
    seen = []
    forward = PackedLinear.forward

    def recording(self, x):
        out = forward(self, x)
        seen.append((self.packed.dtype, out.dtype))
        return out

    monkeypatch.setattr(PackedLinear, "forward", recording)
    model, processor = TINY_MODELS.get("tiny-qwen2")(0, hidden_size=512, num_layers=2, num_heads=8)
    sampler = HFSampler(model, family_for(model.config.model_type, processor))
    sampler.pack = True  # as rollout.onednn_weights=always
    with torch.autocast("cpu", dtype=torch.bfloat16):
        batch = sampler.generate(SAMPLES, SamplingParams(n=2, max_new_tokens=6, seed=0))
    assert batch.completion_ids.shape[0] == 4
    assert seen and set(seen) == {(torch.bfloat16, torch.bfloat16)}
    ids = torch.randint(
        0, model.config.vocab_size, (3, 20), generator=torch.Generator().manual_seed(0)
    )
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        want = model(input_ids=ids).logits
        with packed_weights(model, True, rows=3, dtype=torch.bfloat16) as n:
            assert n > 0
            got = model(input_ids=ids).logits
    assert _close_bf16(got, want)
