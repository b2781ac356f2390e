"""Video frame budget (``model.video_fps`` / ``model.max_frames``): which frames a model sees."""

from __future__ import annotations

import doctest
from dataclasses import replace

import pytest
import torch

from mmrft.config import ModelConfig
from mmrft.data.sample import Sample
from mmrft.models import family_for, frames, load_policy
from mmrft.models.frames import frame_indices, select_frames


def test_doc_examples_hold():
    assert doctest.testmod(frames).failed == 0


@pytest.mark.parametrize(
    ("n", "source_fps", "fps", "max_frames", "want"),
    [
        (8, 2, None, None, list(range(8))),  # no budget: every frame
        (8, 2, 1, None, [0, 2, 4, 6]),  # t = 0, 1, 2, 3 s at 2 recorded frames per second
        (9, 3, 1, None, [0, 3, 6]),
        (10, 30, 4, None, [0, 8]),  # ticks at 0 and 0.25 s: frames 0 and 7.5 -> 8 (round half even)
        (5, 2, 2, None, list(range(5))),  # same rate: all
        (8, 2, None, 4, [0, 2, 5, 7]),  # 4 spread over 0..7: 0, 2.33, 4.67, 7
        (8, 2, None, 1, [0]),
        (8, 2, None, 20, list(range(8))),
        (0, 2, 1, 3, []),
    ],
)
def test_frame_indices_by_hand(n, source_fps, fps, max_frames, want):
    assert frame_indices(n, source_fps, fps, max_frames) == want


def test_frame_indices_rejects_a_nonpositive_rate():
    with pytest.raises(ValueError, match="meta\\['fps'\\] must be positive"):
        frame_indices(4, 0)


def _clip(count_samples, n: int = 8) -> Sample:
    frames_ = [count_samples[i % len(count_samples)].images[0] for i in range(n)]
    return Sample(id="clip", prompt="How many?", answer="3", images=frames_, meta={"video": True})


def test_select_frames_keeps_original_indices(count_samples):
    clip = _clip(count_samples)
    picked = select_frames(clip, fps=1, max_frames=None)
    assert picked.images == [clip.images[i] for i in (0, 2, 4, 6)]
    assert picked.meta["frames_indices"] == [0, 2, 4, 6]
    assert picked.meta["total_num_frames"] == 8
    assert clip.meta == {"video": True}  # the original is untouched
    assert select_frames(picked, fps=1, max_frames=2) is picked  # not selected twice
    assert select_frames(clip, fps=None, max_frames=None) is clip
    image = replace(clip, meta={})
    assert select_frames(image, fps=1, max_frames=1) is image  # images of a non-video stay


def test_config_validates_the_frame_budget():
    with pytest.raises(ValueError, match="max_frames"):
        ModelConfig(max_frames=0)
    with pytest.raises(ValueError, match="video_fps"):
        ModelConfig(video_fps=0.0)
    assert ModelConfig(video_fps=0.5, max_frames=16).max_frames == 16


@pytest.mark.parametrize("name", ["tiny-qwen2-vl", "tiny-qwen3-vl"])
def test_max_frames_bounds_the_video_tokens(name, count_samples):
    model, processor = load_policy(name)
    clip = _clip(count_samples)  # 8 frames = 4 temporal patches of 2
    full = family_for(model.config.model_type, processor).encode([clip])
    budget = family_for(model.config.model_type, processor, max_frames=4).encode([clip])
    assert full["video_grid_thw"][0, 0] == 4 and budget["video_grid_thw"][0, 0] == 2
    video_id = model.config.video_token_id
    n_full = int((full["input_ids"] == video_id).sum())
    n_budget = int((budget["input_ids"] == video_id).sum())
    merge = processor.video_processor.merge_size
    assert n_budget == int(budget["video_grid_thw"].prod()) // merge**2
    if name == "tiny-qwen2-vl":  # per-frame budget; Qwen3-VL's spreads one budget over the clip
        assert n_budget * 2 == n_full
    # the kept frames are exactly frames 0, 2, 5, 7 of the clip
    kept = replace(clip, images=[clip.images[i] for i in (0, 2, 5, 7)])
    by_hand = family_for(model.config.model_type, processor).encode([kept])
    torch.testing.assert_close(budget["pixel_values_videos"], by_hand["pixel_values_videos"])


def test_qwen3_timestamps_date_frames_by_their_recorded_time(count_samples):
    """Qwen3-VL writes '<t seconds>' per temporal patch: after subsampling to 1 fps from 2 fps,
    frames 0, 2 | 4, 6 are patches centred at 0.5 s and 2.5 s, not at 0.25 s and 0.75 s."""
    model, processor = load_policy("tiny-qwen3-vl")
    clip = _clip(count_samples)
    family = family_for(model.config.model_type, processor, video_fps=1.0)
    text = processor.tokenizer.decode(family.encode([clip])["input_ids"][0])
    assert "<0.5 seconds>" in text and "<2.5 seconds>" in text
    assert "<0.2 seconds>" not in text and "<0.8 seconds>" not in text
