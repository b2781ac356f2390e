"""SFT cold start: targets match the format reward, and training lowers the loss."""

from __future__ import annotations

import dataclasses

import torch

from mmrft.data.stream import ProblemStream
from mmrft.rewards import REWARDS
from mmrft.trainer.sft import encode_targets, format_target, sft_loss, train_sft


def test_target_earns_full_reward(count_samples):
    targets = [format_target(s) for s in count_samples]
    scores = REWARDS.get("count")(targets, count_samples)
    assert scores["overall"] == [1.0] * len(count_samples)


def test_encode_targets_ends_with_eos(vlm_family):
    ids, mask = encode_targets(vlm_family, ["<answer>3</answer>", "<answer>12</answer>"])
    eos = vlm_family.tokenizer.eos_token_id
    for row, m in zip(ids, mask, strict=True):
        assert row[int(m.sum()) - 1] == eos


def test_sft_lowers_loss_on_a_fixed_batch(fresh_vlm, vlm_family, count_samples):
    model, _ = fresh_vlm
    with torch.no_grad():
        start = sft_loss(model, vlm_family, count_samples)[0].item()
    stream = ProblemStream(lambda i, lv: count_samples[i % len(count_samples)])
    history = train_sft(model, vlm_family, stream, steps=30, batch_size=6, lr=3e-3)
    assert history[-1]["loss"] < 0.5 * start


def test_sft_stops_early_on_training_accuracy(fresh_vlm, vlm_family, count_samples):
    """One constant target (no perception needed) is learned fast: SFT must stop before its cap."""
    model, _ = fresh_vlm
    same = [dataclasses.replace(s, answer="3") for s in count_samples]
    stream = ProblemStream(lambda i, lv: same[i % len(same)])
    history = train_sft(
        model, vlm_family, stream, steps=200, batch_size=6, lr=3e-3, stop_accuracy=0.9
    )
    assert len(history) < 200
    assert history[-1]["train_exact_ema"] >= 0.9
    # the stop rule is the documented EMA of per-batch exact match
    ema = history[0]["train_exact"]
    for h in history[1:]:
        ema = 0.95 * ema + 0.05 * h["train_exact"]
    assert abs(ema - history[-1]["train_exact_ema"]) < 1e-9
