"""What every rollout engine returns, and the registry engines live in."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from mmrft.registry import Registry

SAMPLERS: Registry[type] = Registry("rollout engine")


@dataclass
class SamplingParams:
    """Decoding settings shared by all engines. ``temperature == 0`` means greedy."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 16
    seed: int | None = None


@dataclass
class RolloutBatch:
    """N = len(samples) * n rows, group-contiguous (rows [i*n, (i+1)*n) answer sample i).

    prompt_inputs: processor output for each row (input_ids/attention_mask [N, P] left padded,
    plus vision keys); completion_ids/mask [N, L] right padded, mask 1 up to and including EOS.
    """

    prompt_inputs: dict[str, Tensor]
    completion_ids: Tensor
    completion_mask: Tensor
    texts: list[str]
    sample_index: list[int]
    images_per_row: list[int]
    finished: Tensor | None = None
    """[N] bool: the completion ended with EOS (False = cut off at max_new_tokens)."""
    pad_id: int = 0
    logprobs: Tensor | None = None
    """[N, L] log-probs of the sampled tokens under the distribution the engine sampled from
    (0 at padding), or None; the trainer compares them with its own (train/inference gap)."""

    def select(self, rows: list[int]) -> dict[str, Tensor]:
        """Prompt inputs of a subset of rows (vision tensors sliced to those rows' images)."""
        return select_prompt_rows(self.prompt_inputs, rows, self.images_per_row)

    def subset(self, rows: list[int]) -> RolloutBatch:
        """The batch restricted to ``rows``; sample_index renumbered densely in row order."""
        dense: dict[int, int] = {}
        index = [dense.setdefault(self.sample_index[r], len(dense)) for r in rows]
        return replace(
            self,
            prompt_inputs=self.select(rows),
            completion_ids=self.completion_ids[rows],
            completion_mask=self.completion_mask[rows],
            texts=[self.texts[r] for r in rows],
            sample_index=index,
            images_per_row=[self.images_per_row[r] for r in rows],
            finished=None if self.finished is None else self.finished[rows],
            logprobs=None if self.logprobs is None else self.logprobs[rows],
        )

    @property
    def num_tokens(self) -> int:
        return int(self.completion_mask.sum())


def _pad_cat(tensors: list[Tensor], value: float, left: bool) -> Tensor:
    width = max(t.shape[1] for t in tensors)
    padded = []
    for t in tensors:
        pad = t.new_full((t.shape[0], width - t.shape[1]), value)
        padded.append(torch.cat([pad, t], 1) if left else torch.cat([t, pad], 1))
    return torch.cat(padded, 0)


def concat_batches(batches: list[RolloutBatch]) -> RolloutBatch:
    """One batch from several: prompts re-left-padded, completions re-right-padded, and each
    batch's sample_index offset so samples stay distinct."""
    if len(batches) == 1:
        return batches[0]
    pad_id = batches[0].pad_id
    prompt_inputs: dict[str, Tensor] = {}
    for key in batches[0].prompt_inputs:
        parts = [b.prompt_inputs[key] for b in batches]
        if key == "input_ids":
            prompt_inputs[key] = _pad_cat(parts, pad_id, left=True)
        elif key in ("attention_mask", "mm_token_type_ids"):
            prompt_inputs[key] = _pad_cat(parts, 0, left=True)
        else:  # pixel_values [sum patches, D], image_grid_thw [n_images, 3]: plain concat
            prompt_inputs[key] = torch.cat(parts, 0)
    index, offset = [], 0
    for b in batches:
        index += [i + offset for i in b.sample_index]
        offset += max(b.sample_index, default=-1) + 1
    finished = [b.finished for b in batches]
    logprobs = [b.logprobs for b in batches]
    return RolloutBatch(
        prompt_inputs,
        _pad_cat([b.completion_ids for b in batches], pad_id, left=False),
        _pad_cat([b.completion_mask for b in batches], 0, left=False),
        [t for b in batches for t in b.texts],
        index,
        [k for b in batches for k in b.images_per_row],
        None if any(f is None for f in finished) else torch.cat(finished),
        pad_id,
        None if any(x is None for x in logprobs) else _pad_cat(logprobs, 0.0, left=False),
    )


def select_prompt_rows(
    prompt_inputs: dict[str, Tensor], rows: list[int], images_per_row: list[int]
) -> dict[str, Tensor]:
    """Slice a batch of processor outputs to ``rows``.

    Per-row keys ([N, ...]) are indexed directly; ``pixel_values`` ([total patches, D]) and
    ``image_grid_thw`` ([n_images, 3]) are concatenations over images, so they are sliced by
    each row's image range and patch count (``grid_thw.prod()`` patches per image).
    """
    out: dict[str, Tensor] = {}
    n_rows = len(images_per_row)
    grid = prompt_inputs.get("image_grid_thw")
    img_start = [0]
    for k in images_per_row:
        img_start.append(img_start[-1] + k)
    for key, value in prompt_inputs.items():
        if key in ("pixel_values", "image_grid_thw"):
            continue
        out[key] = value[rows] if value.shape[0] == n_rows else value
    if grid is not None:
        patches = grid.prod(-1)  # [n_images]
        patch_start = torch.cat([patches.new_zeros(1), patches.cumsum(0)])
        imgs = [i for r in rows for i in range(img_start[r], img_start[r + 1])]
        out["image_grid_thw"] = grid[imgs]
        pix = prompt_inputs["pixel_values"]
        out["pixel_values"] = torch.cat([pix[patch_start[i] : patch_start[i + 1]] for i in imgs], 0)
    return out
