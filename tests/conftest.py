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
