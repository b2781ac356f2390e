"""SFT cold start: targets match the format reward, and training lowers the loss."""

from __future__ import annotations

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
        start = sft_loss(model, vlm_family, count_samples).item()
    stream = ProblemStream(lambda i: count_samples[i % len(count_samples)])
    losses = train_sft(model, vlm_family, stream, steps=30, batch_size=6, lr=3e-3)
    assert losses[-1] < 0.5 * start
