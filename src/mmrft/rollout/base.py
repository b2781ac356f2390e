"""What every rollout engine returns, and the registry engines live in."""

from __future__ import annotations

from dataclasses import dataclass

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

    def select(self, rows: list[int]) -> dict[str, Tensor]:
        """Prompt inputs of a subset of rows (vision tensors sliced to those rows' images)."""
        return select_prompt_rows(self.prompt_inputs, rows, self.images_per_row)

    @property
    def num_tokens(self) -> int:
        return int(self.completion_mask.sum())


def select_prompt_rows(
    prompt_inputs: dict[str, Tensor], rows: list[int], images_per_row: list[int]
) -> dict[str, Tensor]:
    """Slice a batch of processor outputs to ``rows``.

    Per-row keys ([N, ...]) are indexed directly; ``pixel_values`` ([total patches, D]) and
    ``image_grid_thw`` ([n_images, 3]) are concatenations over images, so they are sliced by
    each row's image range and patch count (``grid_thw.prod()`` patches per image).
    """
    import torch

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
