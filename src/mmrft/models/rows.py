"""Slicing a batch of processor outputs to some of its rows.

A processor concatenates vision inputs over images (Qwen's ``pixel_values`` [total patches, D]
with ``image_grid_thw``), stacks them per image (LLaVA) or per tile (InternVL), so taking rows
of a batch is a model-side fact; the rollout batch and the families' vision sharing both use it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def row_items(rows: list[int], counts: list[int], spans: list[int] | None = None) -> list[int]:
    """Indices of the items (images, videos, clips) of ``rows``, in row order, where row r holds
    ``counts[r]`` consecutive items; with ``spans``, item i occupies ``spans[i]`` consecutive
    entries and the entry indices are returned instead."""
    start = _starts(counts)
    items = [i for r in rows for i in range(start[r], start[r + 1])]
    if spans is None:
        return items
    entry = _starts(spans)
    return [e for i in items for e in range(entry[i], entry[i + 1])]


def _starts(counts: list[int]) -> list[int]:
    """Prefix sums: item range of row r is [starts[r], starts[r + 1])."""
    out = [0]
    for k in counts:
        out.append(out[-1] + k)
    return out


def _slice_patches(pixels: Tensor, grid: Tensor, items: list[int]) -> Tensor:
    """Rows of ``pixels`` [total patches, D] belonging to ``items`` (grid [n_items, 3])."""
    patches = grid.prod(-1)  # [n_items] patches per image / video
    start = torch.cat([patches.new_zeros(1), patches.cumsum(0)])
    return torch.cat([pixels[start[i] : start[i + 1]] for i in items], 0)


def select_prompt_rows(
    prompt_inputs: dict[str, Tensor],
    rows: list[int],
    images_per_row: list[int],
    *,
    videos_per_row: list[int] | None = None,
    audios_per_row: list[int] | None = None,
    per_image_keys: tuple[str, ...] = (),
    per_video_keys: tuple[str, ...] = (),
    per_audio_keys: tuple[str, ...] = (),
    image_spans: list[int] | None = None,
) -> dict[str, Tensor]:
    """Slice a batch of processor outputs to ``rows``.

    Per-row keys ([N, ...]) are indexed directly. Qwen-style ``pixel_values`` /
    ``pixel_values_videos`` ([total patches, D]) with ``image_grid_thw`` / ``video_grid_thw``
    ([n, 3]) are concatenations over images (videos), sliced by each row's range and patch count
    (``grid_thw.prod()`` patches each). ``per_image_keys`` ([entries, ...]) are sliced by image
    (``image_spans[i]`` entries for image i, e.g. InternVL's tiles; one each by default),
    ``per_video_keys`` by video and ``per_audio_keys`` by clip.
    """
    out: dict[str, Tensor] = {}
    n_rows = len(images_per_row)
    imgs = row_items(rows, images_per_row)
    vids = row_items(rows, videos_per_row or [0] * n_rows)
    clips = row_items(rows, audios_per_row or [0] * n_rows)
    by_item = {key: row_items(rows, images_per_row, image_spans) for key in per_image_keys}
    by_item |= {key: vids for key in per_video_keys} | {key: clips for key in per_audio_keys}
    grid, vgrid = prompt_inputs.get("image_grid_thw"), prompt_inputs.get("video_grid_thw")
    special = {"pixel_values_videos", "video_grid_thw", "second_per_grid_ts"} - set(by_item)
    if grid is not None:
        special |= {"pixel_values", "image_grid_thw"}
    for key, value in prompt_inputs.items():
        if key in special:
            continue
        if key in by_item:
            if by_item[key]:  # rows without such items get no such key, as when encoded
                out[key] = value[by_item[key]]
        else:
            out[key] = value[rows] if value.shape[0] == n_rows else value
    if grid is not None and imgs:  # rows without images get no image keys, as when encoded
        out["image_grid_thw"] = grid[imgs]
        out["pixel_values"] = _slice_patches(prompt_inputs["pixel_values"], grid, imgs)
    if "second_per_grid_ts" in prompt_inputs and vids:  # one entry per video (Qwen2.5-VL)
        out["second_per_grid_ts"] = prompt_inputs["second_per_grid_ts"][vids]
    if vgrid is not None and vids:
        out["video_grid_thw"] = vgrid[vids]
        out["pixel_values_videos"] = _slice_patches(
            prompt_inputs["pixel_values_videos"], vgrid, vids
        )
    return out
