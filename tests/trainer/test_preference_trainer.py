"""The preference trainer: reference computed once per pair, micro-batching equals one pass,
LoRA's reference is the base, training moves the margin, resume continues the same run, and
pairs built from scored rollouts."""

from __future__ import annotations

import json
from functools import partial
from types import SimpleNamespace

import pytest
import torch

from mmrft.algorithms.preference import PREFERENCE_LOSSES
from mmrft.config import ModelConfig
from mmrft.data.pairs import Pair
from mmrft.models import load_policy
from mmrft.models.setup import prepare_policy
from mmrft.rewards import REWARDS
from mmrft.trainer.checkpoint import latest_checkpoint
from mmrft.trainer.pair_sampling import sample_pairs
from mmrft.trainer.preference import (
    pair_logprobs,
    preference_backward,
    reference_logprobs,
    step_pairs,
    train_preference,
)
from mmrft.trainer.sft import format_target

DPO = partial(PREFERENCE_LOSSES.get("dpo"), beta=0.5)


def _pairs(samples) -> list[Pair]:
    """Right answer preferred over the answer plus one."""
    return [Pair(s, format_target(s), f"<answer>{int(s.answer) + 1}</answer>") for s in samples]


def _frozen():
    ref, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    return ref.eval().requires_grad_(False)


def _count_rows(model) -> list[int]:
    """Record the number of rows of every forward of ``model``."""
    seen: list[int] = []
    model.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    return seen


def test_step_pairs_is_one_permutation_per_epoch():
    first_epoch = step_pairs(6, 3, 1, seed=4) + step_pairs(6, 3, 2, seed=4)
    assert sorted(first_epoch) == list(range(6))  # every pair once in epoch 0
    second = step_pairs(6, 3, 3, seed=4) + step_pairs(6, 3, 4, seed=4)
    assert sorted(second) == list(range(6)) and second != first_epoch  # reshuffled
    wide = step_pairs(4, 6, 1, seed=4)  # a batch wider than the data spans two epochs
    assert sorted(wide[:4]) == [0, 1, 2, 3] and step_pairs(4, 6, 1, seed=4) == wide
    assert step_pairs(6, 3, 1, seed=5) != step_pairs(6, 3, 1, seed=4)


def test_pair_logprobs_match_per_row_sums(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    pairs = _pairs(count_samples[:3])
    with torch.no_grad():
        logps, tokens = pair_logprobs(model, vlm_family, pairs)
        alone, _ = pair_logprobs(model, vlm_family, pairs[1:2])
    assert logps.shape == (6,) and (logps < 0).all()
    # rows 1 and 3 + 1 are pair 1's chosen and rejected, whatever else is in the batch
    torch.testing.assert_close(logps[[1, 4]], alone, atol=1e-5, rtol=0)
    assert (
        tokens[0] == tokens[3]
    )  # "<answer>k</answer>" and "<answer>k+1</answer>": same length here


def test_reference_forward_runs_once_per_pair(fresh_vlm, vlm_family, count_samples):
    model, processor = fresh_vlm
    ref = _frozen()
    rows = _count_rows(ref)
    pairs = _pairs(count_samples[:5])
    # 4 steps x 3 pairs = 12 pair-visits over 5 pairs: epochs repeat, the reference does not
    train_preference(
        model,
        vlm_family,
        pairs,
        DPO,
        ref_model=ref,
        steps=4,
        batch_size=3,
        lr=1e-3,
        logprob_micro_batch_size=2,
    )
    assert rows == [4, 4, 2]  # chunks of 2, 2, 1 pairs, each pair's chosen + rejected rows once
    assert sum(rows) == 2 * len(pairs)


def test_reference_free_loss_skips_the_reference(fresh_vlm, vlm_family, count_samples):
    model, _ = fresh_vlm
    simpo = partial(PREFERENCE_LOSSES.get("simpo"), beta=2.0, gamma=0.5)
    history = train_preference(
        model,
        vlm_family,
        _pairs(count_samples[:4]),
        simpo,
        ref_model=None,
        steps=1,
        batch_size=2,
        lr=1e-3,
    )
    assert torch.isfinite(torch.tensor(history[0]["dpo/loss"]))


@pytest.mark.parametrize("loss", ["dpo", "orpo"])
def test_micro_batched_gradient_equals_one_pass(
    fresh_vlm, tiny_vlm, vlm_family, count_samples, loss
):
    model, _ = fresh_vlm
    pairs = _pairs(count_samples[:3])
    ref = reference_logprobs(tiny_vlm[0], vlm_family, pairs)  # [3, 2]
    fn = PREFERENCE_LOSSES.get(loss)

    def grads(micro):
        model.zero_grad(set_to_none=True)
        loss_value, metrics = preference_backward(model, vlm_family, pairs, ref, fn, micro)
        return (
            loss_value,
            metrics,
            [p.grad.clone() for p in model.parameters() if p.grad is not None],
        )

    whole_loss, whole_m, whole = grads(None)
    split_loss, split_m, split = grads(2)  # micro-batches of 2 and 1 pairs
    assert split_loss == pytest.approx(whole_loss, abs=1e-6)
    for key in whole_m:
        assert split_m[key] == pytest.approx(whole_m[key], abs=1e-5), key
    assert len(whole) == len(split) > 0
    for a, b in zip(whole, split, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-4)


def test_lora_reference_is_the_base(fresh_vlm, vlm_family, count_samples):
    base, _ = fresh_vlm
    pairs = _pairs(count_samples[:3])
    expected = reference_logprobs(base, vlm_family, pairs)
    lora = prepare_policy(load_policy("tiny-qwen2.5-vl", seed=0)[0], ModelConfig(lora_rank=4))
    with torch.no_grad():
        for name, p in lora.named_parameters():
            if "lora_B" in name:
                p.fill_(0.05)  # the adapter now changes the output
    adapted = reference_logprobs(lora, vlm_family, pairs)
    as_base = reference_logprobs(lora, vlm_family, pairs, base_of_lora=True)
    assert not torch.allclose(adapted, expected, atol=1e-4)
    torch.testing.assert_close(as_base, expected, atol=1e-5, rtol=0)
    assert lora.training  # the mode it came in with


def test_dpo_moves_the_margin_and_resume_continues(tmp_path, tiny_vlm, vlm_family, count_samples):
    pairs = _pairs(count_samples[:4])
    kwargs = dict(steps=3, batch_size=2, lr=3e-3, seed=1)

    straight, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    history = train_preference(straight, vlm_family, pairs, DPO, ref_model=tiny_vlm[0], **kwargs)
    assert history[0]["dpo/loss"] == pytest.approx(0.6931, abs=1e-3)  # policy == reference: log 2
    assert history[-1]["dpo/reward_margin"] > history[0]["dpo/reward_margin"]
    assert history[-1]["dpo/loss"] < history[0]["dpo/loss"]

    # a run stopped after step 2 (checkpointed at 1), resumed to step 3, ends where the straight
    # one did
    first, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    short = {**kwargs, "steps": 2}
    train_preference(
        first,
        vlm_family,
        pairs,
        DPO,
        ref_model=tiny_vlm[0],
        save_every=1,
        out_dir=tmp_path,
        processor=processor,
        **short,
    )
    # a checkpoint at the end of a 2-step run needs save_every to hit step 2 < steps: step 1
    assert latest_checkpoint(tmp_path).name == "step_000001"
    resumed, _ = load_policy("tiny-qwen2.5-vl", seed=0)
    ref = _frozen()
    rows = _count_rows(ref)
    again = train_preference(
        resumed,
        vlm_family,
        pairs,
        DPO,
        ref_model=ref,
        out_dir=tmp_path,
        processor=processor,
        **kwargs,
    )
    assert rows == []  # the reference log-probs came from the checkpoint
    assert [h["step"] for h in again] == [1, 2, 3]
    for (name, a), b in zip(straight.named_parameters(), resumed.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4, msg=name)
    logged = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in logged] == [1, 2, 3]  # the first run's step 2 dropped


def test_sample_pairs_from_scored_rollouts(count_samples):
    samples = count_samples[:3]
    right = [format_target(s) for s in samples]
    wrong = [f"<answer>{int(s.answer) + 1}</answer>" for s in samples]
    texts = [
        right[0],
        wrong[0],
        wrong[0],
        "<answer>x",  # prompt 0: one right, two kinds of wrong
        right[1],
        right[1],
        right[1],
        right[1],  # prompt 1: always right -> no pair
        wrong[2],
        wrong[2],
        "junk",
        wrong[2],  # prompt 2: never right -> no pair
    ]
    seen = {}

    class Sampler:
        def generate(self, prompts, params):
            seen["n"] = params.n
            return SimpleNamespace(texts=texts, sample_index=[0] * 4 + [1] * 4 + [2] * 4)

    pairs, stats = sample_pairs(
        Sampler(), samples, REWARDS.get("count"), group_size=4, pairs_per_prompt=4, seed=0
    )
    assert seen["n"] == 4
    # the one right text against each of the two distinct wrong texts
    assert [(p.sample.id, p.chosen) for p in pairs] == [(samples[0].id, right[0])] * 2
    assert {p.rejected for p in pairs} == {wrong[0], "<answer>x"}
    assert stats["prompts_paired"] == 1
    assert stats["prompts_all_correct"] == 1 and stats["prompts_all_wrong"] == 1
    assert stats["pairs"] == 2
    assert stats["sampled_accuracy"] == pytest.approx(5 / 12)
