"""Rollout engines behind one interface: samples + SamplingParams in, RolloutBatch out."""

from mmrft.rollout.base import SAMPLERS, RolloutBatch, SamplingParams
from mmrft.rollout.hf import HFSampler
from mmrft.rollout.vllm import VLLMSampler  # registers "vllm"; imports vllm only when built

__all__ = [
    "SAMPLERS",
    "HFSampler",
    "RolloutBatch",
    "SamplingParams",
    "VLLMSampler",
    "make_sampler",
]


def make_sampler(cfg, model, family):
    """The engine ``cfg`` (a ``RolloutConfig``) names, with its engine-specific options."""
    options = {}
    if cfg.engine == "vllm":
        options = {
            "gpu_memory_utilization": cfg.vllm_gpu_memory_utilization,
            "kv_cache_gib": cfg.vllm_kv_cache_gib,
            "sync": cfg.vllm_sync,
            "sleep": cfg.vllm_sleep,
        }
    return SAMPLERS.get(cfg.engine)(model, family, **options)
