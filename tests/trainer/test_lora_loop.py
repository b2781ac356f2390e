"""LoRA and gradient checkpointing in the training loop: what trains, the reference, resume, export."""

from __future__ import annotations

import json

import pytest
import torch
from peft import PeftModel
from test_pipeline import SMALL
from test_rl import _cfg, _run

from mmrft.build import run
from mmrft.config import ModelConfig, load_config
from mmrft.models import family_for, load_policy
from mmrft.models.setup import prepare_policy
from mmrft.rollout.base import SAMPLERS, SamplingParams
from mmrft.tasks import TASKS
from mmrft.trainer.checkpoint import latest_checkpoint
from mmrft.trainer.rl import policy_logprobs

LORA = ("model.lora_rank=4", "model.lora_alpha=8")


def _lora_run(cfg, seed=0):
    """``_run`` with the policy prepared as ``cfg.model`` says; returns the trained policy."""
    import test_rl

    original = test_rl.load_policy
    test_rl.load_policy = lambda name, seed=0: (lambda m, p: (prepare_policy(m, cfg.model), p))(
        *original(name, seed=seed)
    )
    try:
        return _run(cfg, seed)[0]
    finally:
        test_rl.load_policy = original


def test_only_adapters_train_and_the_base_is_untouched(tmp_path):
    before, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    model = _lora_run(_cfg(tmp_path, "rl.steps=2", *LORA))
    assert isinstance(model, PeftModel)
    base = dict(model.get_base_model().named_parameters())
    for name, p in before.named_parameters():
        # peft moves an adapted Linear's weight/bias to "<module>.base_layer.<weight|bias>"
        module, leaf = name.rsplit(".", 1)
        key = name if name in base else f"{module}.base_layer.{leaf}"
        assert torch.equal(base[key], p), name
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and any(p.abs().sum() > 0 for p in lora_b)  # B starts at 0 and moved


def test_adapters_off_is_the_base_model_as_reference():
    torch.manual_seed(0)
    base, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    policy, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    policy = prepare_policy(policy, ModelConfig(lora_rank=4))
    for name, p in policy.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)  # adapters that change the outputs
    family = family_for(base.config.model_type, processor)
    batch = SAMPLERS.get("hf")(policy, family).generate(
        TASKS.get("count")().dataset(2, 0, 2), SamplingParams(n=2, max_new_tokens=4, seed=0)
    )
    with torch.no_grad():
        expected = policy_logprobs(base, family, batch, temp=1.0)
        adapted = policy_logprobs(policy, family, batch, temp=1.0)
        with policy.disable_adapter():
            reference = policy_logprobs(policy, family, batch, temp=1.0)
    assert torch.allclose(reference, expected, atol=1e-5)
    assert not torch.allclose(adapted, expected, atol=1e-3)


def test_lora_resume_matches_uninterrupted_run(tmp_path):
    args = ("rl.steps=4", "run.save_every=2", *LORA)
    straight = _lora_run(_cfg(tmp_path / "a", *args))
    _lora_run(_cfg(tmp_path / "b", "rl.steps=2", "run.save_every=2", *LORA))
    ckpt = latest_checkpoint(tmp_path / "b")
    assert (ckpt / "adapter_model.safetensors").exists()  # checkpoints hold adapters only
    assert not (ckpt / "model.safetensors").exists()
    resumed = _lora_run(_cfg(tmp_path / "b", *args), seed=123)
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_pipeline_with_lora_and_kl_exports_a_merged_model(tmp_path):
    # A reward that varies within every group, so the adapters move from step 1 on.
    (tmp_path / "length.py").write_text(
        "def reward(completions, samples):\n"
        "    return {'overall': [len(c) / 50 for c in completions]}\n"
    )
    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path / 'run'}",
            *SMALL,
            *LORA,
            "algorithm.kl_coef=0.05",
            "rl.eval_every=2",
            "rl.lr=1e-2",
            f"rl.reward={tmp_path / 'length.py'}:reward",
        ],
    )
    tmp_path = tmp_path / "run"
    run(cfg)
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert abs(rows[0]["actor/kl"]) < 1e-6 < rows[1]["actor/kl"]  # adapters start as a no-op
    merged, _ = load_policy(str(tmp_path / "model"))
    # Independent route: the SFT export plus the last checkpoint's adapters.
    adapted = PeftModel.from_pretrained(
        load_policy(str(tmp_path / "sft"))[0], latest_checkpoint(tmp_path)
    )
    ids = torch.randint(3, 200, (2, 9))
    with torch.no_grad():
        assert torch.allclose(
            merged(input_ids=ids).logits, adapted(input_ids=ids).logits, atol=1e-4
        )


@pytest.mark.parametrize("lora", [(), LORA])
def test_gradient_checkpointing_gives_the_same_update(tmp_path, lora):
    # Gradient checkpointing takes the plain forward (it drops KV caches), so the reference run
    # does too: the shared-prompt forward is compared with the plain one elsewhere, and here
    # Adam's first step (lr * g / |g|) turns float32 rounding of a near-zero gradient into ±lr.
    plain = _lora_run(_cfg(tmp_path / "a", "rl.steps=1", "rl.share_prompt=false", *lora))
    ckpt = _lora_run(_cfg(tmp_path / "b", "rl.steps=1", "model.gradient_checkpointing=true", *lora))
    assert (
        ckpt.is_gradient_checkpointing
        if not lora
        else ckpt.get_base_model().is_gradient_checkpointing
    )
    for p, q in zip(plain.parameters(), ckpt.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)


def test_pipeline_with_qlora_trains_adapters_and_exports_a_plain_model(tmp_path):
    """model.quantization=nf4 through the whole pipeline: the policy is 4-bit under LoRA, the
    checkpoints hold adapters only, and out_dir/model loads as a plain full-precision model."""
    pytest.importorskip("bitsandbytes")
    cfg = load_config(
        None,
        [f"run.out_dir={tmp_path}", *SMALL, *LORA, "model.quantization=nf4", "sft.steps=0"],
    )
    run(cfg)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2
    ckpt = latest_checkpoint(tmp_path)
    assert (ckpt / "adapter_model.safetensors").exists()
    assert not (ckpt / "model.safetensors").exists()
    merged, _ = load_policy(str(tmp_path / "model"))
    assert not getattr(merged, "is_loaded_in_4bit", False)
    assert "quantization_config" not in merged.config.to_dict()
    linears = [m for m in merged.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all(type(m) is torch.nn.Linear for m in linears)
