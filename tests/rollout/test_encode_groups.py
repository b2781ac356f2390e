"""The HF rollout runs the processor once per prompt and copies its outputs to the prompt's
group: the tensors equal encoding every copy, for every model family's input layout (Qwen's
concatenated patches, stacked images, tiles), with prompts of different lengths, one image,
two images and none in one batch."""

from __future__ import annotations

import pytest
import torch

from mmrft.models.tiny import TINY_MODELS
from mmrft.rollout.hf import encode_groups

FAMILIES = [name for name in TINY_MODELS.names() if "audio" not in name]


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("group", [2, 3])
def test_encoding_once_per_group_equals_encoding_every_copy(mixed_prompts, name, group):
    _, family, samples = mixed_prompts(name)
    rows = [s for s in samples for _ in range(group)]
    want, got = family.encode(rows), encode_groups(family, rows, group)
    assert sorted(got) == sorted(want)
    for key, value in want.items():
        assert got[key].dtype == value.dtype and torch.equal(got[key], value), key


def test_group_of_one_is_the_plain_encoding(mixed_prompts):
    _, family, samples = mixed_prompts("tiny-qwen2.5-vl")
    want, got = family.encode(samples), encode_groups(family, samples, 1)
    assert all(torch.equal(got[k], want[k]) for k in want)
