"""Rollout engines behind one interface: samples + SamplingParams in, RolloutBatch out.

``mmrft.build.make_sampler`` builds the engine ``rollout.engine`` names.
"""

from mmrft.rollout.base import SAMPLERS, RolloutBatch, SamplingParams
from mmrft.rollout.hf import HFSampler
from mmrft.rollout.vllm import VLLMSampler  # registers "vllm"; imports vllm only when built

__all__ = [
    "SAMPLERS",
    "HFSampler",
    "RolloutBatch",
    "SamplingParams",
    "VLLMSampler",
]
