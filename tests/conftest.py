"""Shared fixtures: one tiny Qwen2.5-VL per test session (building it costs about a second)."""

from __future__ import annotations

import pytest
import torch

from mmrft.models import family_for, load_policy
from mmrft.tasks import TASKS

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def tiny_vlm():
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    return model, processor


@pytest.fixture()
def fresh_vlm():
    """A model the test may train or modify."""
    return load_policy("tiny-qwen2.5-vl", seed=0)


@pytest.fixture(scope="session")
def vlm_family(tiny_vlm):
    model, processor = tiny_vlm
    return family_for(model.config.model_type, processor)


@pytest.fixture(scope="session")
def count_samples():
    return TASKS.get("count")().dataset(6, seed=3, level=2)


@pytest.fixture(scope="session")
def mixed_prompts():
    """``policy(name) -> (model, family, samples)``: a tiny model and prompts of different
    lengths (left padding); for a VLM one image, two images and no image in the same batch."""

    def policy(name: str):
        from mmrft.data.sample import Sample

        model, processor = load_policy(name, seed=0)
        family = family_for(model.config.model_type, processor)
        text = [
            Sample(id="a", prompt="Say a number.", answer="1"),
            Sample(id="b", prompt="Name three colours and then count to five, slowly.", answer=""),
        ]
        if not family.multimodal:
            return model, family, text
        images = [
            TASKS.get(t)().generate(3 + k, 1) for k, t in enumerate(["count", "compare_count"])
        ]
        return model, family, [images[0], text[1], images[1], text[0]]

    return policy
