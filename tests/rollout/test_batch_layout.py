"""Row selection and chunk joining of processor outputs, on hand-built tensors whose values say
where they came from: per-row, per-image (with spans), per-video and per-clip keys."""

from __future__ import annotations

import torch

from mmrft.rollout.base import RolloutBatch, concat_batches, select_prompt_rows


def _inputs() -> dict[str, torch.Tensor]:
    """Three rows: row 0 has images a, b (a is 2 tiles, b is 1) and a clip; row 1 nothing;
    row 2 image c (3 tiles), a video and two clips. Entry values name their owner."""
    return {
        "input_ids": torch.tensor([[1, 1], [2, 2], [3, 3]]),
        "attention_mask": torch.ones(3, 2),
        # tiles: a a b c c c
        "pixel_values": torch.tensor([10.0, 11.0, 20.0, 30.0, 31.0, 32.0]),
        "pixel_values_videos": torch.tensor([[7.0, 7.0]]),  # one video (row 2)
        "input_features": torch.tensor([100.0, 300.0, 301.0]),  # clips: row 0, row 2, row 2
    }


LAYOUT = dict(
    videos_per_row=[0, 0, 1],
    audios_per_row=[1, 0, 2],
    per_image_keys=("pixel_values",),
    per_video_keys=("pixel_values_videos",),
    per_audio_keys=("input_features",),
    image_spans=[2, 1, 3],
)


def test_select_slices_each_key_by_its_own_items():
    out = select_prompt_rows(_inputs(), [2, 0], [2, 0, 1], **LAYOUT)
    assert out["input_ids"].tolist() == [[3, 3], [1, 1]]
    # row 2's image c (3 tiles) first, then row 0's a (2 tiles) and b (1 tile)
    assert out["pixel_values"].tolist() == [30.0, 31.0, 32.0, 10.0, 11.0, 20.0]
    assert out["pixel_values_videos"].tolist() == [[7.0, 7.0]]
    assert out["input_features"].tolist() == [300.0, 301.0, 100.0]


def test_rows_without_an_item_kind_get_no_such_key():
    out = select_prompt_rows(_inputs(), [1], [2, 0, 1], **LAYOUT)
    assert set(out) == {"input_ids", "attention_mask"}
    out = select_prompt_rows(_inputs(), [0], [2, 0, 1], **LAYOUT)
    assert "pixel_values_videos" not in out and out["input_features"].tolist() == [100.0]


def test_without_spans_one_entry_per_image():
    inputs = {"input_ids": torch.zeros(2, 1), "pixel_values": torch.tensor([1.0, 2.0, 3.0])}
    out = select_prompt_rows(inputs, [1], [1, 2], per_image_keys=("pixel_values",))
    assert out["pixel_values"].tolist() == [2.0, 3.0]


def _batch(inputs: dict, images: list[int], **layout) -> RolloutBatch:
    n = inputs["input_ids"].shape[0]
    return RolloutBatch(
        inputs,
        completion_ids=torch.zeros(n, 1, dtype=torch.long),
        completion_mask=torch.ones(n, 1),
        texts=[""] * n,
        sample_index=list(range(n)),
        images_per_row=images,
        **layout,
    )


def test_subset_keeps_spans_and_counts_in_step():
    batch = _batch(_inputs(), [2, 0, 1], **LAYOUT)
    sub = batch.subset([2, 0])
    assert sub.image_spans == [3, 2, 1] and sub.audios_per_row == [2, 1]
    assert sub.videos_per_row == [1, 0]
    # selecting again from the subset is the same as selecting from the original
    again = sub.select([1])
    assert again["pixel_values"].tolist() == [10.0, 11.0, 20.0]
    assert again["input_features"].tolist() == [100.0]


def test_concat_then_select_recovers_each_chunk():
    """Joining a chunk with audio and tiles and a chunk with neither (None layouts) and then
    selecting a row gives back that row's own tensors."""
    with_media = _batch(_inputs(), [2, 0, 1], **LAYOUT)
    plain_inputs = {
        "input_ids": torch.tensor([[4, 4]]),
        "attention_mask": torch.ones(1, 2),
        "pixel_values": torch.tensor([40.0]),
    }
    plain = _batch(
        plain_inputs,
        [1],
        videos_per_row=[0],
        per_image_keys=("pixel_values",),
        per_video_keys=("pixel_values_videos",),
        per_audio_keys=("input_features",),
    )
    joined = concat_batches([with_media, plain])
    assert joined.audios_per_row == [1, 0, 2, 0] and joined.image_spans == [2, 1, 3, 1]
    assert joined.select([3])["pixel_values"].tolist() == [40.0]
    assert joined.select([2])["pixel_values"].tolist() == [30.0, 31.0, 32.0]
    assert joined.select([2])["input_features"].tolist() == [300.0, 301.0]
