"""QLoRA: bitsandbytes-quantized language model + LoRA adapters, on the tiny Qwen2.5-VL.

The first group needs no bitsandbytes (the config built, the skip list against transformers' own
module matcher, the errors). The rest load a real quantized model on the CPU (bitsandbytes has a
CPU backend for nf4/fp4/int8 since 0.48) and skip where bitsandbytes is not installed.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys

import pytest
import torch
from logprob_reference import IMAGE_AND_TEXT_FAMILIES

from mmrft.config import ConfigError, ModelConfig, load_config
from mmrft.models import FAMILIES, family_for, load_policy, quantize, save_policy
from mmrft.models.logprobs import completion_logprobs
from mmrft.models.lora import save_merged
from mmrft.models.quantize import dequantize, is_quantized, quantization_config, skip_modules
from mmrft.models.setup import prepare_policy
from mmrft.rollout import HFSampler, SamplingParams

QWEN = FAMILIES.get("qwen2_5_vl")
needs_bnb = pytest.mark.skipif(
    importlib.util.find_spec("bitsandbytes") is None,
    reason="bitsandbytes is not installed (pip install 'mmrft[qlora]')",
)


# --- without bitsandbytes ----------------------------------------------------------------------


def test_configs_built_per_kind(monkeypatch):
    monkeypatch.setattr(quantize, "require_bitsandbytes", lambda kind: None)  # runs without bnb
    nf4 = quantization_config("nf4", QWEN)
    assert nf4.load_in_4bit and nf4.bnb_4bit_quant_type == "nf4"
    assert nf4.bnb_4bit_use_double_quant
    assert nf4.bnb_4bit_compute_dtype == torch.bfloat16  # the default without a model dtype
    fp4 = quantization_config("fp4", QWEN, dtype=torch.float32)
    assert fp4.bnb_4bit_quant_type == "fp4" and fp4.bnb_4bit_compute_dtype == torch.float32
    int8 = quantization_config("int8", QWEN)
    assert int8.load_in_8bit and not int8.load_in_4bit
    # Qwen's merger (projector) sits inside `model.visual`; lm_head listed since any list
    # replaces transformers' default skip of the output embeddings
    assert nf4.llm_int8_skip_modules == ["model.visual", "model.visual.merger", "lm_head"]
    assert quantization_config(None, QWEN) is None


def test_unknown_kind_names_the_key():
    with pytest.raises(ValueError, match=r"unknown model.quantization 'int4'; known: \['fp4'"):
        quantization_config("int4", QWEN)


def test_missing_bitsandbytes_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # `import bitsandbytes` now fails
    with pytest.raises(ValueError, match=r"model.quantization='nf4'.*pip install 'mmrft\[qlora\]'"):
        quantization_config("nf4", QWEN)


def test_config_refuses_quantization_without_lora():
    with pytest.raises(ConfigError, match="quantization.*lora_rank > 0"):
        load_config(None, ["model.quantization=nf4", "model.lora_rank=0"])
    assert load_config(None, ["model.quantization=int8", "model.lora_rank=4"]).model.lora_rank == 4


@pytest.mark.parametrize("name", [*IMAGE_AND_TEXT_FAMILIES, "tiny-smolvlm2", "tiny-qwen2-audio"])
def test_skip_list_keeps_everything_but_the_language_model(name):
    """Through transformers' own matcher: a Linear is quantized iff it is in the language model
    (and is not the output head)."""
    matcher = pytest.importorskip("transformers.quantizers.quantizers_utils")
    model, processor = load_policy(name)
    family = family_for(model.config.model_type, processor)
    skip = skip_modules(family)
    inside = f"{family.language_model}."
    linears = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)]
    quantized = {n for n in linears if matcher.should_convert_module(n, skip)}
    assert quantized == {n for n in linears if n.startswith(inside)}
    # 7 projections per decoder layer (q, k, v, o, gate, up, down): nothing else in the decoder
    assert len(quantized) == 7 * model.config.get_text_config().num_hidden_layers
    head = next(n for n, m in model.named_modules() if m is model.get_output_embeddings())
    assert head not in quantized


# --- with bitsandbytes (CPU backend) -----------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory, count_samples):
    """The full-precision tiny model, saved; a batch of its own completions to score."""
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    path = tmp_path_factory.mktemp("tiny-qwen2.5-vl")
    save_policy(model, processor, path)
    family = family_for(model.config.model_type, processor)
    batch = HFSampler(model, family).generate(
        count_samples[:2], SamplingParams(n=2, max_new_tokens=8, seed=0)
    )
    return model, processor, str(path), batch


def _logprobs(model, batch) -> torch.Tensor:
    with torch.no_grad():
        logp, _ = completion_logprobs(
            model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
        )
    return logp[batch.completion_mask.bool()]  # [T] over real completion tokens


@needs_bnb
@pytest.mark.parametrize("kind", ["nf4", "fp4", "int8"])
def test_only_language_model_is_quantized(kind, saved):
    import bitsandbytes as bnb

    fp_model, _, path, _ = saved
    model, _ = load_policy(path, quantization=kind)
    assert is_quantized(model)
    layer = bnb.nn.Linear8bitLt if kind == "int8" else bnb.nn.Linear4bit
    quantized = {n for n, m in model.named_modules() if isinstance(m, layer)}
    assert len(quantized) == 7 * 2  # 7 projections x 2 decoder layers
    assert all(n.startswith("model.language_model.layers.") for n in quantized)
    fp_params = dict(fp_model.named_parameters())
    for name, module in model.named_modules():
        outside = name.startswith("model.visual.") or name == "lm_head"
        if outside and isinstance(module, torch.nn.Linear):
            assert type(module) is torch.nn.Linear, name  # bnb layers subclass Linear
            assert torch.equal(module.weight, fp_params[f"{name}.weight"])  # untouched


@needs_bnb
def test_builtin_tiny_name_quantizes_through_the_same_path(saved):
    _, _, path, batch = saved
    via_name, _ = load_policy("tiny-qwen2.5-vl", seed=0, quantization="nf4")
    via_path, _ = load_policy(path, quantization="nf4")
    assert is_quantized(via_name)
    assert torch.equal(_logprobs(via_name, batch), _logprobs(via_path, batch))


@needs_bnb
@pytest.mark.parametrize("kind", ["nf4", "fp4"])
def test_4bit_model_computes_with_its_dequantized_weights(kind, saved):
    """Independent reference: quantize + dequantize each language-model weight with
    bitsandbytes' functional API (blocksize 64, double quant, as transformers does) and put it
    into a full-precision copy; the quantized model must compute exactly that."""
    import bitsandbytes.functional as F

    fp_model, _, path, batch = saved
    reference = copy.deepcopy(fp_model)
    for name, module in reference.named_modules():
        if name.startswith("model.language_model.") and isinstance(module, torch.nn.Linear):
            packed, state = F.quantize_4bit(
                module.weight.data, blocksize=64, compress_statistics=True, quant_type=kind
            )
            module.weight.data = F.dequantize_4bit(packed, state)
    model, _ = load_policy(path, quantization=kind)
    assert torch.allclose(_logprobs(model, batch), _logprobs(reference, batch), atol=1e-5)


@needs_bnb
@pytest.mark.parametrize("kind", ["nf4", "fp4", "int8"])
def test_quantized_logprobs_stay_close_to_full_precision(kind, saved):
    """The tolerance is relative to how far two differently seeded models' log-probs lie apart:
    quantization must move log-probs by at most a quarter of that (measured: nf4 ~0.11, fp4
    ~0.13, int8 ~0.01 of it, since 4-bit keeps 16 levels per 64-weight block, int8 256)."""
    fp_model, _, path, batch = saved
    other, _ = load_policy("tiny-qwen2.5-vl", seed=1)
    reference = _logprobs(fp_model, batch)
    seed_gap = (_logprobs(other, batch) - reference).abs().mean()  # ~0.27 nats per token
    model, _ = load_policy(path, quantization=kind)
    error = (_logprobs(model, batch) - reference).abs().mean()
    assert 0 < error < 0.25 * seed_gap


def _qlora(path, gradient_checkpointing=False):
    model, processor = load_policy(path, quantization="nf4")
    cfg = ModelConfig(
        lora_rank=4,
        lora_alpha=8,
        quantization="nf4",
        gradient_checkpointing=gradient_checkpointing,
    )
    return prepare_policy(model, cfg), processor


def _checkpointing(model) -> bool:
    # transformers 5 renamed the flag; the old name warns
    if hasattr(type(model), "is_activation_checkpointing"):
        return model.is_activation_checkpointing
    return model.is_gradient_checkpointing


def _step(model, batch, lr=1e-2) -> None:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    logp, _ = completion_logprobs(
        model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
    )
    (-logp.sum() / batch.completion_mask.sum()).backward()
    optimizer.step()


@needs_bnb
@pytest.mark.parametrize("checkpointing", [False, True])
def test_one_step_trains_only_the_adapters(checkpointing, saved):
    _, _, path, batch = saved
    model, _ = _qlora(path, gradient_checkpointing=checkpointing)
    # peft's k-bit preparation would switch checkpointing on by default: the config decides
    assert _checkpointing(model.get_base_model()) == checkpointing
    model.train(checkpointing)  # checkpointing only recomputes in training mode
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    _step(model, batch)
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
    assert changed and all("lora_" in n for n in changed)  # 4-bit weights and the rest frozen
    assert any("lora_B" in n for n in changed)  # B left zero: the adapters now do something
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {
        n for n in before if "lora_" in n
    }


@needs_bnb
def test_merged_export_is_a_plain_model_equal_to_the_adapted_one(saved, tmp_path):
    _, _, path, batch = saved
    model, processor = _qlora(path)
    _step(model, batch)
    inputs = batch.prompt_inputs
    with torch.no_grad():
        adapted = model(**inputs).logits
        with model.disable_adapter():
            base = model(**inputs).logits
    assert (adapted - base).abs().max() > 0.05  # the step moved the model: a merge can be wrong

    save_merged(model, processor, tmp_path)
    assert "quantization_config" not in json.loads((tmp_path / "config.json").read_text())
    merged, _ = load_policy(str(tmp_path))
    assert not is_quantized(merged)
    assert {type(m) for m in merged.modules() if isinstance(m, torch.nn.Linear)} == {
        torch.nn.Linear
    }
    with torch.no_grad():
        assert torch.allclose(merged(**inputs).logits, adapted, atol=1e-5)
        assert torch.equal(model(**inputs).logits, adapted)  # merged a copy: training goes on
        # Why dequantize first: peft's own merge re-quantizes W + BA to 4 bits and rounds the
        # adapter's update away (an error of ~0.15 here, against ~5e-7 above).
        naive = copy.deepcopy(model).merge_and_unload()
        assert (naive(**inputs).logits - adapted).abs().max() > 1e-2


@needs_bnb
def test_dequantize_gives_plain_linears(saved):
    _, _, path, batch = saved
    model, _ = load_policy(path, quantization="int8")
    with torch.no_grad():
        quantized = model(**batch.prompt_inputs).logits
        plain = dequantize(model)
        assert not is_quantized(plain) and "quantization_config" not in plain.config.to_dict()
        # int8 matmul rounds activations too; the dequantized weights give nearly the same logits
        assert torch.allclose(plain(**batch.prompt_inputs).logits, quantized, atol=0.05)


@needs_bnb
def test_quantized_checkpoint_without_lora_is_refused(saved):
    _, _, path, _ = saved
    model, _ = load_policy(path, quantization="nf4")  # like a checkpoint saved in 4 bits
    with pytest.raises(ValueError, match=r"model.quantization.*model.lora_rank > 0"):
        prepare_policy(model, ModelConfig(lora_rank=0))


@needs_bnb
def test_rollout_then_training_takes_one_4bit_route(saved):
    """On a CPU with AVX-512-BF16, bitsandbytes repacks a 4-bit weight into an inference-only
    layout at its first no-grad eval forward (a rollout); the training forward then failed with
    an in-place error. Forcing bitsandbytes' CPU flag on makes this check the same on every CPU:
    after loading, no layer may take that path, so eval log-probs equal training log-probs
    exactly (same kernels, same order) and the training step after a rollout runs."""
    import bitsandbytes as bnb

    _, _, path, batch = saved
    model, _ = _qlora(path)
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(layers) == 14 and not any(m.support_avx512bf16_for_cpu for m in layers)
    for m in layers:  # what bitsandbytes 0.50 sets on such a CPU; loading must undo it
        m.support_avx512bf16_for_cpu = True
    assert quantize.use_trainable_cpu_path(model) == 14
    model.eval()
    rollout_logp = _logprobs(model, batch)  # the rollout-time pass that used to repack
    assert not any(getattr(m.weight.quant_state, "packing_format_for_cpu", False) for m in layers)
    model.train()
    logp, _ = completion_logprobs(
        model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
    )
    assert torch.equal(logp[batch.completion_mask.bool()].detach(), rollout_logp)
    _step(model, batch)  # raised "a view of a leaf Variable ..." on such CPUs
