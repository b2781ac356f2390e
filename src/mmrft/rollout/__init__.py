"""Rollout engines behind one interface: samples + SamplingParams in, RolloutBatch out."""

from mmrft.rollout.base import SAMPLERS, RolloutBatch, SamplingParams
from mmrft.rollout.hf import HFSampler

__all__ = ["SAMPLERS", "HFSampler", "RolloutBatch", "SamplingParams"]
