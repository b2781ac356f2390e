"""Rollouts with Hugging Face ``generate``: batched, KV-cached, left-padded, early-stopping.

Each sample is repeated ``n`` times at the processor level (images included) so every row is an
ordinary batch row: simple, and the same layout the trainer's log-prob pass uses.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from mmrft.data.sample import Sample
from mmrft.models.families import ModelFamily
from mmrft.rollout.base import SAMPLERS, RolloutBatch, SamplingParams, concat_batches


def completion_mask_from_ids(ids: Tensor, eos_id: int, pad_id: int) -> Tensor:
    """1 for tokens up to and including the first EOS, 0 after. ids [N, L] -> [N, L] float.

    Without an EOS (truncated), every generated token counts.
    """
    is_eos = ids == eos_id  # [N, L]
    after_eos = (is_eos.cumsum(1) - is_eos.long()) > 0  # [N, L] strictly after the first EOS
    return (~after_eos).float()


@SAMPLERS.register("hf")
class HFSampler:
    """``generate`` in chunks of ``batch_size`` rows; returns one ``RolloutBatch``."""

    def __init__(self, model: torch.nn.Module, family: ModelFamily, batch_size: int = 256) -> None:
        self.model = model
        self.family = family
        self.batch_size = batch_size
        self.suppressed = family.suppressed_token_ids()
        tok = family.tokenizer
        self.eos_id = tok.eos_token_id
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    @torch.no_grad()
    def generate(self, samples: list[Sample], params: SamplingParams) -> RolloutBatch:
        rows = [s for s in samples for _ in range(params.n)]
        index = [i for i in range(len(samples)) for _ in range(params.n)]
        if params.seed is not None:
            torch.manual_seed(params.seed)
        was_training = self.model.training
        self.model.eval()
        chunks = [
            self._generate_chunk(rows[i : i + self.batch_size], params)
            for i in range(0, len(rows), self.batch_size)
        ]
        self.model.train(was_training)
        return dataclasses.replace(concat_batches(chunks), sample_index=index)

    def _generate_chunk(self, rows: list[Sample], params: SamplingParams) -> RolloutBatch:
        inputs = self.family.encode(rows)
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        greedy = params.temperature <= 0
        gen_kwargs = dict(
            max_new_tokens=params.max_new_tokens,
            do_sample=not greedy,
            eos_token_id=self.eos_id,
            pad_token_id=self.pad_id,
            suppress_tokens=self.suppressed or None,
        )
        if not greedy:
            gen_kwargs.update(
                temperature=params.temperature, top_p=params.top_p, top_k=params.top_k or None
            )
        else:
            gen_kwargs.update(temperature=None, top_p=None, top_k=None)
        out = self.model.generate(**inputs, **gen_kwargs)  # [n, P + L]
        completion_ids = out[:, inputs["input_ids"].shape[1] :]  # [n, L]
        mask = completion_mask_from_ids(completion_ids, self.eos_id, self.pad_id)
        completion_ids = completion_ids.masked_fill(mask == 0, self.pad_id)
        texts = self.family.tokenizer.batch_decode(
            completion_ids.masked_fill(completion_ids == self.eos_id, self.pad_id),
            skip_special_tokens=True,
        )
        return RolloutBatch(
            inputs,
            completion_ids,
            mask,
            texts,
            sample_index=[],  # set by generate() for the whole batch
            images_per_row=[len(r.images) if self.family.multimodal else 0 for r in rows],
            finished=(completion_ids == self.eos_id).any(dim=1),
            pad_id=self.pad_id,
        )
