"""Rollouts with Hugging Face ``generate``: batched, KV-cached, left-padded, early-stopping.

Each sample is repeated ``n`` times at the processor level (images included) so every row is an
ordinary batch row: simple, and the same layout the trainer's log-prob pass uses. Where the
architecture allows (``shared_prefill.PREFILLS``), the n copies share one prefill of the prompt
and only the decoding runs n times; the KV cache is written in place (``kv_cache``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.distributed as dist
from torch import Tensor
from transformers import (
    GenerationConfig,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from mmrft.data.sample import Sample
from mmrft.models.families import ModelFamily
from mmrft.models.loading import base_model, takes_cache_argument
from mmrft.models.rows import select_prompt_rows
from mmrft.rollout.base import (
    SAMPLERS,
    RolloutBatch,
    SamplingParams,
    concat_batches,
    media_layout,
)
from mmrft.rollout.decode_attention import decode_attention, decode_attention_enabled
from mmrft.rollout.kv_cache import reserved_cache
from mmrft.rollout.packed_weights import onednn_enabled, packed_weights, packing_dtype
from mmrft.rollout.shared_prefill import shared_prefill, supports_shared_prefill


def completion_mask_from_ids(ids: Tensor, eos_id: int, pad_id: int) -> Tensor:
    """1 for tokens up to and including the first EOS, 0 after. ids [N, L] -> [N, L] float.

    Without an EOS (truncated), every generated token counts.
    """
    is_eos = ids == eos_id  # [N, L]
    after_eos = (is_eos.cumsum(1) - is_eos.long()) > 0  # [N, L] strictly after the first EOS
    return (~after_eos).float()


@contextmanager
def neutral_generation_config(model: torch.nn.Module):
    """Generate with transformers' defaults instead of the checkpoint's generation_config."""
    base = base_model(model)
    saved = base.generation_config
    base.generation_config = GenerationConfig()
    try:
        yield
    finally:
        base.generation_config = saved


class _SampledLogprobs:
    """A last-in-line logits processor that keeps log p(sampled token) under the final
    (temperature / top-k / top-p / suppression) distribution. The step-t token is known only at
    step t+1, so each step keeps its scores and their log-normaliser [n]; no [n, V]
    log-softmax is materialised (that would be ~150 MB a step for a 150k vocabulary)."""

    def __init__(self) -> None:
        self.pending: tuple[Tensor, Tensor] | None = None  # scores [n, V], logsumexp [n]
        self.steps: list[Tensor] = []  # each [n]

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        self.take(input_ids[:, -1])
        self.pending = (scores, torch.logsumexp(scores.float(), dim=-1))
        return scores

    def take(self, tokens: Tensor) -> None:
        if self.pending is not None:
            scores, lse = self.pending
            picked = scores.gather(1, tokens[:, None]).squeeze(1).float()  # [n]
            self.steps.append(picked - lse)  # log p = logit - logsumexp
            self.pending = None


@contextmanager
def weights_cast_once(model: torch.nn.Module) -> Iterator[None]:
    """Under mixed precision, cast each weight to the compute dtype once per rollout.

    The trainer's autocast runs without a cast cache (its weights change at every update), so
    each decoding step would cast every weight again: for a small batch that costs about as much
    as the matmul itself. The weights stay fixed for the whole rollout, so autocast's cache is
    switched on for it and emptied at the end (nested in the trainer's context, leaving it would
    not empty the cache). Outside autocast it does nothing.
    """
    device = next(model.parameters()).device.type
    if not torch.is_autocast_enabled(device):
        yield
        return
    dtype = torch.get_autocast_dtype(device)
    try:
        with torch.autocast(device_type=device, dtype=dtype, cache_enabled=True):
            yield
    finally:
        torch.clear_autocast_cache()


def encode_groups(family: ModelFamily, rows: list[Sample], group: int) -> dict[str, Tensor]:
    """``family.encode(rows)`` for rows made of ``group`` consecutive copies of each prompt,
    running the processor once per prompt and copying its outputs to the copies: the same
    tensors (the padded length depends only on the set of prompts), without resizing and
    normalising every image ``group`` times, which on a small VLM is a third of a rollout."""
    if group == 1:
        return family.encode(rows)
    unique = rows[::group]
    inputs = family.encode(unique)
    copies = [i for i in range(len(unique)) for _ in range(group)]
    return select_prompt_rows(inputs, copies, **media_layout(family, unique, inputs))


@SAMPLERS.register("hf")
class HFSampler:
    """``generate`` in chunks of ``batch_size`` rows; returns one ``RolloutBatch``.

    ``share_prefill``: prefill each prompt once for its n completions where the model's
    architecture is registered in ``shared_prefill.PREFILLS`` (elsewhere the plain path runs);
    chunks then hold whole groups. ``reserve_cache``: write the KV cache in place
    (``kv_cache.reserved_cache``) rather than through transformers' concatenating cache, where
    the model's forward takes ``cache=`` (``models.loading.takes_cache_argument``).
    ``onednn_weights``: pack large float32 CPU linear weights for oneDNN once per rollout, in
    bf16 under bf16 autocast (``packed_weights``; "auto": on non-Intel CPUs).
    ``decode_attention``: the decoding steps' attention through the compiled CPU kernel of
    ``decode_attention`` (float32 or bf16 cache; "auto": on a CPU where it builds).

    They are decided here, once, for ``model``: a sampler keeps the model it was built with.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        family: ModelFamily,
        batch_size: int = 256,
        share_prefill: bool = True,
        reserve_cache: bool = True,
        onednn_weights: str = "auto",
        decode_attention: str = "auto",
    ) -> None:
        self.model = model
        self.family = family
        self.batch_size = batch_size
        self.share_prefill = share_prefill and supports_shared_prefill(model)
        self.reserve_cache = reserve_cache and takes_cache_argument(model)
        self.pack = onednn_enabled(onednn_weights)
        device = next(model.parameters()).device
        self.fast_attention = decode_attention_enabled(decode_attention, device)
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
        group = params.n if self.share_prefill and params.n > 1 else 1
        step = max(group, self.batch_size // group * group)  # whole groups per chunk
        # under bf16 autocast the matmuls run in bf16: pack the weights cast to it
        dtype = packing_dtype()
        pack = self.pack and dtype is not None
        size = min(step, len(rows))
        with (
            weights_cast_once(self.model),
            packed_weights(self.model, pack, size, dtype or torch.float32),
            decode_attention(self.model, self.fast_attention),
        ):
            chunks = [
                self._generate_chunk(rows[i : i + step], params, group)
                for i in range(0, len(rows), step)
            ]
        self.model.train(was_training)
        return dataclasses.replace(concat_batches(chunks), sample_index=index)

    def _generate_chunk(
        self, rows: list[Sample], params: SamplingParams, group: int
    ) -> RolloutBatch:
        """Rows of ``group`` copies each (1: no sharing) -> their completions."""
        inputs = encode_groups(self.family, rows, group)
        device = next(self.model.parameters()).device
        inputs = {k: v.to(device) for k, v in inputs.items()}
        layout = media_layout(self.family, rows, inputs)
        greedy = params.temperature <= 0
        # Under torchrun with a sharded policy every rank must run the same number of forward
        # passes: ranks that finish early keep stepping until all are done.
        synced = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        gen_kwargs = dict(
            synced_gpus=synced,
            max_new_tokens=params.max_new_tokens,
            do_sample=not greedy,
            eos_token_id=self.eos_id,
            pad_token_id=self.pad_id,
            suppress_tokens=self.suppressed or None,
            # transformers adds its own warpers (and a library default top_k=50 when top_k is
            # not given) after custom processors: switch them all off explicitly, so the only
            # warpers are ours, in front of the recorder.
            temperature=1.0,
            top_k=0,
            top_p=1.0,
        )
        recorder = None if greedy else _SampledLogprobs()
        if recorder is not None:
            # Our own warpers, so the recorder (which transformers runs before its warpers)
            # sees the final distribution; the checkpoint's generation_config is set aside
            # for the call, or its sampling defaults (Qwen2.5-VL ships top_k=1, top_p=0.001,
            # repetition_penalty=1.05) would silently replace the policy being trained.
            warpers = [
                TemperatureLogitsWarper(params.temperature) if params.temperature != 1 else None,
                TopKLogitsWarper(params.top_k) if params.top_k else None,
                TopPLogitsWarper(params.top_p) if params.top_p < 1 else None,
            ]
            gen_kwargs["logits_processor"] = LogitsProcessorList(
                [w for w in warpers if w is not None] + [recorder]
            )
        # room for the prompt and every new token, written in place (no per-step cat)
        cache = (
            reserved_cache(self.model, params.max_new_tokens + 1) if self.reserve_cache else None
        )
        gen_inputs = inputs
        if group > 1:  # the prompt's KV cache computed once per group, expanded to its rows
            cache, gen_inputs = shared_prefill(self.model, inputs, group, layout, cache)
        if cache is not None:
            gen_kwargs["cache"] = cache
        with neutral_generation_config(self.model):
            out = self.model.generate(**gen_inputs, **gen_kwargs)  # [n, P + L]
        completion_ids = out[:, inputs["input_ids"].shape[1] :]  # [n, L]
        mask = completion_mask_from_ids(completion_ids, self.eos_id, self.pad_id)
        logprobs = None
        if recorder is not None:
            recorder.take(completion_ids[:, len(recorder.steps)])  # the last step's token
            logprobs = torch.stack(recorder.steps, dim=1) * mask  # [n, L]
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
            **layout,
            finished=(completion_ids == self.eos_id).any(dim=1),
            pad_id=self.pad_id,
            logprobs=logprobs,
        )
