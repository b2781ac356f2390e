"""The PPO critic in the loop: values line up with tokens, warm-up, resume, clear errors."""

from __future__ import annotations

import json

import pytest
import torch
from test_rl import _cfg, _run

from mmrft.config import CriticConfig
from mmrft.models import family_for, load_policy
from mmrft.models.logprobs import concat_prompt_completion
from mmrft.rollout.base import SAMPLERS, SamplingParams
from mmrft.tasks import TASKS
from mmrft.trainer.checkpoint import latest_checkpoint, load_trainer_state
from mmrft.trainer.critic import build_critic
from mmrft.trainer.rl import critic_values

GAE = ("algorithm.adv_estimator=gae", "critic.lr=1e-2")


@pytest.mark.parametrize("layout", ["shared", None])
def test_values_read_the_hidden_state_that_predicts_each_token(layout):
    torch.manual_seed(0)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = family_for(model.config.model_type, processor)
    critic = build_critic(CriticConfig(model=layout), model)
    torch.nn.init.normal_(critic.head.weight)  # a non-trivial head
    samples = TASKS.get("count")().dataset(2, 0, 2)
    batch = SAMPLERS.get("hf")(model, family).generate(
        samples, SamplingParams(n=2, temperature=1.0, max_new_tokens=5, seed=0)
    )
    with torch.no_grad():
        values = critic_values(critic, model, family, batch, temp=1.0)  # [N, L]
    # Independent route: one plain full-sequence forward per row, sliced by hand.
    for i in range(len(batch.texts)):
        prompt = batch.select([i])
        n_real = int(batch.completion_mask[i].sum())
        ids = batch.completion_ids[i : i + 1, :n_real]
        inputs = concat_prompt_completion(prompt, ids, torch.ones_like(ids))
        net = model if critic.shared else critic.backbone
        with torch.no_grad():
            h = net(**inputs, output_hidden_states=True).hidden_states[-1][0]  # [P+n, H]
            P = prompt["input_ids"].shape[1]
            expected = critic.head(h[P - 1 : P - 1 + n_real]).squeeze(-1)  # V(s_t) predicts t
        assert torch.allclose(values[i, :n_real], expected, atol=1e-4)


@pytest.mark.parametrize("layout", ["shared", "null"])
def test_warmup_trains_only_the_critic(tmp_path, layout):
    before, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    cfg = _cfg(tmp_path, "rl.steps=2", "run.save_every=2", "critic.warmup_steps=2", *GAE)
    assert cfg.critic.model is None
    cfg = _cfg(
        tmp_path,
        "rl.steps=2",
        "run.save_every=2",
        "critic.warmup_steps=2",
        *GAE,
        f"critic.model={layout}",
    )
    model, _ = _run(cfg)
    for p, q in zip(model.parameters(), before.parameters(), strict=True):
        assert torch.equal(p, q)  # the policy did not move
    head = load_trainer_state(latest_checkpoint(tmp_path))["critic"]["head.weight"]
    assert head.abs().sum() > 0  # the zero-initialised head did
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert all(r["critic/grad_norm"] > 0 for r in rows)


def test_policy_and_critic_train_after_warmup(tmp_path):
    before, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    model, _ = _run(
        _cfg(tmp_path, "rl.steps=2", "critic.warmup_steps=1", "critic.model=shared", *GAE)
    )
    assert any(
        not torch.equal(p, q) for p, q in zip(model.parameters(), before.parameters(), strict=True)
    )
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    for key in ("critic/vf_loss", "critic/clipfrac", "critic/explained_var", "advantage/abs_mean"):
        assert key in rows[-1], key


def test_resume_restores_the_critic(tmp_path):
    args = ("rl.steps=4", "run.save_every=2", *GAE)
    straight, _ = _run(_cfg(tmp_path / "a", *args))
    _run(_cfg(tmp_path / "b", "rl.steps=2", "run.save_every=2", *GAE))
    resumed, _ = _run(_cfg(tmp_path / "b", *args), seed=123)
    # Advantages depend on the critic's values, so equal policies need a restored critic too.
    for p, q in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-5)
    a = load_trainer_state(latest_checkpoint(tmp_path / "a"))["critic"]
    b = load_trainer_state(latest_checkpoint(tmp_path / "b"))["critic"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_critic_from_a_path_loads_and_a_foreign_vocabulary_is_a_clear_error(tmp_path):
    policy, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    same, tok = load_policy("tiny-qwen2", seed=1)  # same project tokenizer, other backbone
    same.save_pretrained(tmp_path / "ok")
    tok.save_pretrained(tmp_path / "ok")
    critic = build_critic(CriticConfig(model=str(tmp_path / "ok")), policy)
    assert not critic.shared and critic.backbone.config.model_type == "qwen2"
    same.resize_token_embeddings(same.config.vocab_size + 8)
    same.save_pretrained(tmp_path / "bad")
    tok.save_pretrained(tmp_path / "bad")
    with pytest.raises(ValueError, match=r"critic.model .* vocabulary size"):
        build_critic(CriticConfig(model=str(tmp_path / "bad")), policy)


def test_gae_without_values_is_a_clear_error():
    from mmrft.build import make_objective
    from mmrft.config import AlgorithmConfig
    from mmrft.trainer.objective import compute_advantages

    with pytest.raises(ValueError, match="critic"):
        compute_advantages(
            make_objective(AlgorithmConfig(adv_estimator="gae")),
            torch.ones(2),
            2,
            mask=torch.ones(2, 3),
        )
