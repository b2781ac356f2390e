"""Mixed precision: model.dtype=bfloat16 computes in bf16 while weights and AdamW stay float32."""

from __future__ import annotations

import torch
from learn_utils import components

from mmrft.config import load_config
from mmrft.models import family_for, load_policy
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.trainer.optim import make_optimizer
from mmrft.trainer.pipeline import load_model
from mmrft.trainer.precision import autocast, master_dtype
from mmrft.trainer.update import policy_logprobs


def test_a_bf16_run_loads_float32_master_weights_and_a_bf16_reference():
    cfg = load_config(None, ["model.dtype=bfloat16", "model.name_or_path=tiny-qwen2"])
    policy, _ = load_model(cfg, "tiny-qwen2")
    reference, _ = load_model(cfg, "tiny-qwen2", trainable=False)
    assert {p.dtype for p in policy.parameters()} == {torch.float32}
    assert {p.dtype for p in reference.parameters()} == {torch.bfloat16}  # never updated
    assert master_dtype("bfloat16", "nf4") == "bfloat16"  # QLoRA: bitsandbytes keeps its own


def test_autocast_computes_matmuls_in_bf16_on_float32_weights(tiny_vlm):
    model, _ = tiny_vlm
    seen = []
    layer = model.model.language_model.layers[0].mlp.down_proj
    handle = layer.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        model(input_ids=ids)
        with autocast("bfloat16", model):
            model(input_ids=ids)
        with autocast("float32", model):
            model(input_ids=ids)
    handle.remove()
    assert seen == [torch.float32, torch.bfloat16, torch.float32]
    assert layer.weight.dtype == torch.float32


def test_bf16_logprobs_stay_within_bf16_precision_of_float32(tiny_vlm, count_samples):
    """bf16 keeps 8 significant bits (relative rounding 2^-9 per op). Measured on this model:
    mean |delta log-prob| 1.1e-3 nats, max 4.5e-3, against 0.28 between two seeds' models; the
    bounds (1e-2 mean, 5e-2 max) allow that and catch a wrong cast (e.g. bf16 log-softmax)."""
    model, processor = tiny_vlm
    family = family_for(model.config.model_type, processor)
    batch = HFSampler(model, family).generate(
        count_samples[:4], SamplingParams(n=4, max_new_tokens=12, seed=0)
    )
    real = batch.completion_mask.bool()
    with torch.no_grad():
        fp32 = policy_logprobs(model, family, batch, temp=1.0)
        with autocast("bfloat16", model):
            bf16 = policy_logprobs(model, family, batch, temp=1.0)
    assert bf16.dtype == torch.float32  # the log-prob math itself runs in float32
    error = (bf16 - fp32)[real].abs()
    assert 0 < error.mean() < 1e-2 and error.max() < 5e-2


def test_one_bf16_rl_step_updates_float32_weights_and_adam_states(tmp_path, monkeypatch):
    from mmrft.data.sample import Sample
    from mmrft.data.stream import ProblemStream
    from mmrft.trainer import rl

    cfg = load_config(
        None,
        [f"run.out_dir={tmp_path}", "model.dtype=bfloat16", "rl.steps=1", "rl.lr=1e-2",
         "rollout.prompts_per_step=2", "rollout.group_size=4", "rollout.max_new_tokens=2",
         "run.tensorboard=false", "rl.eval_every=1000"],
    )  # fmt: skip
    model, tok = load_policy("tiny-qwen2", seed=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizers = []

    def recording(*args, **kwargs):
        opt, sched = make_optimizer(*args, **kwargs)
        optimizers.append(opt)
        return opt, sched

    monkeypatch.setattr(rl, "make_optimizer", recording)
    rewards = lambda texts, rows: {"overall": [0.1 * i for i in range(len(texts))]}  # noqa: E731
    stream = ProblemStream(lambda i, lv: Sample(id=str(i), prompt=f"Hi {i}", answer=""))
    family = family_for(model.config.model_type, tok)
    rl.train_rl(cfg, model, tok, family, stream=stream, reward_fn=rewards, eval_samples=[],
                **components(cfg, model, family))  # fmt: skip
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    assert any(not torch.equal(before[n], p) for n, p in model.named_parameters())
    states = list(optimizers[0].state.values())
    assert states and all(s["exp_avg"].dtype == torch.float32 for s in states)


def test_forwards_inside_one_long_autocast_see_every_weight_update(fresh_vlm):
    """The RL loop runs inside one autocast context; autocast's default weight-cast cache would
    keep serving the first forward's bf16 copies after optimizer steps, so nothing would learn
    (the bf16 digit task stayed at chance until this was fixed)."""
    model, _ = fresh_vlm
    ids = torch.tensor([[1, 2, 3, 4]])
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    with autocast("bfloat16", model):
        before = model(input_ids=ids).logits
        before.float().sum().backward()
        opt.step()
        after = model(input_ids=ids).logits
    with torch.no_grad():
        fresh = model(input_ids=ids).logits  # float32, outside autocast: the updated weights
    moved = (after.float() - before.float()).abs().max()
    assert moved > 0.1  # the update is visible inside the same autocast region...
    assert (after.float() - fresh).abs().max() < 0.25 * moved  # ...as the model's current output
