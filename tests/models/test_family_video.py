"""Video for LLaVA-OneVision, InternVL and SmolVLM2: frames become the video tokens the configs
imply, log-probs equal a plain forward pass, image / video / text rows select out of a mixed
rollout batch exactly as encoded alone, a training step on a video reaches the vision tower,
and InternVL's tiles (images of 5, 3 and 1 tiles, frames of 1) slice by image."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest
import torch
from logprob_reference import nll_step, reference_logprobs

from mmrft.data.sample import Sample
from mmrft.models import family_for, load_policy
from mmrft.models.logprobs import completion_logprobs
from mmrft.rollout import HFSampler, SamplingParams

VIDEO_FAMILIES = ["tiny-llava-onevision", "tiny-internvl-tiles", "tiny-smolvlm2"]
# families whose processor folds each frame into pixel_values as one more image
FRAMES_AS_IMAGES = {"tiny-internvl-tiles", "tiny-smolvlm2"}


def _load(name: str):
    if name == "tiny-smolvlm2":
        pytest.importorskip("num2words", reason="SmolVLMProcessor imports num2words")
    model, processor = load_policy(name)
    return model.eval(), processor, family_for(model.config.model_type, processor)


@pytest.fixture(scope="module", params=VIDEO_FAMILIES)
def built(request):
    return (request.param, *_load(request.param))


@pytest.fixture(scope="module")
def video(count_samples):
    """Four 112x112 frames."""
    frames = [s.images[0] for s in count_samples[:4]]
    return Sample(id="clip", prompt="How many?", answer="3", images=frames, meta={"video": True})


@pytest.fixture(scope="module")
def text():
    return Sample(id="text", prompt="How many are there?", answer="0")


def _patches_per_side(vision_config) -> int:
    size, patch = vision_config.image_size, vision_config.patch_size
    size = size[0] if isinstance(size, (list, tuple)) else size
    patch = patch[0] if isinstance(patch, (list, tuple)) else patch
    return size // patch


def _expected_video_tokens(name: str, config, n_frames: int) -> tuple[int, int]:
    """(placeholder id, count) for one video, from the model config alone."""
    side = _patches_per_side(config.vision_config)  # 56 px / 14 = 4, or 64 / 16 = 4
    if name == "tiny-llava-onevision":
        # each frame's 4x4 features pooled 2x2 -> 2x2, plus one newline per video: 4 * 4 + 1
        return config.video_token_index, n_frames * math.ceil(side / 2) ** 2 + 1
    if name == "tiny-internvl-tiles":
        # one 56-px tile per frame, pixel shuffle 0.5: 16 * 0.25 = 4 <IMG_CONTEXT> a frame
        return config.image_token_id, n_frames * round(side**2 * config.downsample_ratio**2)
    # SmolVLM2: one unsplit image per frame, pixel shuffle by 2: 16 / 4 = 4 <image> a frame
    return config.image_token_id, n_frames * side**2 // config.scale_factor**2


def test_video_frames_become_the_expected_video_tokens(built, video, count_samples):
    name, model, _, family = built
    assert family.supports_video
    token_id, want = _expected_video_tokens(name, model.config, len(video.images))
    assert want == (17 if name == "tiny-llava-onevision" else 16)  # the arithmetic above
    inputs = family.encode([video, count_samples[0]])
    found = (inputs["input_ids"] == token_id).sum(1).tolist()
    if name == "tiny-llava-onevision":  # its own <video> token; the image row has none
        assert found == [want, 0]
        assert tuple(inputs["pixel_values_videos"].shape[:2]) == (1, 4)  # [videos, frames]
        assert (inputs["input_ids"][0] == model.config.image_token_index).sum() == 0
    else:  # frames are images: the image row adds its own image tokens
        assert found[0] == want
        assert found[1] == family.encode([count_samples[0]])["input_ids"].eq(token_id).sum()
    assert token_id in family.suppressed_token_ids()


def test_generate_then_logprobs_match_a_plain_forward(built, video, count_samples):
    _, model, _, family = built
    samples = [video, count_samples[0]]
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=2, max_new_tokens=5, seed=0)
    )
    ids, mask = batch.completion_ids, batch.completion_mask
    with torch.no_grad():
        logp, _ = completion_logprobs(model, batch.prompt_inputs, ids, mask)
    reference = reference_logprobs(model, batch.prompt_inputs, ids, mask)
    torch.testing.assert_close(logp, reference, atol=1e-5, rtol=1e-5)
    # the frames matter: the same frames reversed give other log-probs
    swapped = replace(video, images=video.images[::-1])
    with torch.no_grad():
        other, _ = completion_logprobs(model, family.encode([swapped]), ids[:1], mask[:1])
    assert not torch.allclose(other[0], logp[0], atol=1e-4)


def _row_logprobs(model, inputs, batch, rows: list[int]) -> torch.Tensor:
    with torch.no_grad():
        logp, _ = completion_logprobs(
            model, inputs, batch.completion_ids[rows], batch.completion_mask[rows]
        )
    return logp


def test_image_video_and_text_rows_select_as_encoded_alone(built, video, text, count_samples):
    """Each row selected out of the mixed rollout batch (``RolloutBatch.select``: per-image,
    per-video keys and spans) and each sample encoded alone give the batch's log-probs."""
    name, model, _, family = built
    samples = [count_samples[0], video, text]
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=1, max_new_tokens=5, seed=0)
    )
    assert batch.videos_per_row == [0, 1, 0]
    frames = len(video.images) if name in FRAMES_AS_IMAGES else 0
    assert batch.images_per_row == [1, frames, 0]
    full = _row_logprobs(model, batch.prompt_inputs, batch, [0, 1, 2])  # [3, L]
    for row, sample in enumerate(samples):
        selected = batch.select([row])
        if sample is text:  # no pixels travel with a text row
            assert not any(k.startswith("pixel_values") for k in selected)
        torch.testing.assert_close(
            _row_logprobs(model, selected, batch, [row])[0], full[row], atol=1e-5, rtol=1e-5
        )
        alone = family.encode([sample])
        torch.testing.assert_close(
            _row_logprobs(model, alone, batch, [row])[0], full[row], atol=1e-5, rtol=1e-5
        )
    # a reordered subset, and a subset of a subset
    torch.testing.assert_close(
        _row_logprobs(model, batch.select([2, 1, 0]), batch, [2, 1, 0]), full[[2, 1, 0]]
    )
    sub = batch.subset([1, 0])
    torch.testing.assert_close(_row_logprobs(model, sub.select([0]), batch, [1])[0], full[1])


@pytest.mark.parametrize("name", ["tiny-smolvlm", "tiny-llava-onevision", "tiny-internvl-tiles"])
def test_image_rows_beside_a_text_row_select_as_encoded_alone(name, text, count_samples):
    """Without video: SmolVLM's one-tile-each ``pixel_values`` (its processor's per-row blocks
    would leave a text row selected alone an all-padding image) and OneVision's per-row
    ``batch_num_images`` (its processor lists only the rows that have images)."""
    model, _, family = _load(name)
    pair = Sample(
        id="pair",
        prompt="Which has more?",
        answer="1",
        images=[s.images[0] for s in count_samples[1:3]],
    )
    samples = [pair, count_samples[0], text]
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=1, max_new_tokens=4, seed=0)
    )
    full = _row_logprobs(model, batch.prompt_inputs, batch, [0, 1, 2])
    for rows in ([0], [1], [2], [2, 0]):
        torch.testing.assert_close(
            _row_logprobs(model, batch.select(rows), batch, rows), full[rows], atol=1e-5, rtol=1e-5
        )


@pytest.mark.parametrize("name", VIDEO_FAMILIES)
def test_one_training_step_on_a_video_changes_the_vision_weights(name, video):
    model, _, family = _load(name)
    model.train()
    batch = HFSampler(model, family).generate(
        [video], SamplingParams(n=2, max_new_tokens=4, seed=0)
    )
    changed = nll_step(model, batch)
    assert any(n.startswith(family.language_model) for n in changed)
    for path in (*family.vision_tower, *family.projector):  # reached through the video tokens
        assert any(n.startswith(path + ".") for n in changed), path


# ----------------------------------------------------------------------------- InternVL tiles
def test_internvl_tiles_per_image_and_a_middle_row_selects_like_alone(count_samples, video, text):
    model, _, family = _load("tiny-internvl-tiles")
    square = count_samples[0]  # 112x112: 2x2 tiles (up to 4) + a thumbnail = 5
    wide = replace(
        count_samples[1], id="wide", images=[count_samples[1].images[0].resize((120, 50))]
    )
    # 120x50 (aspect 2.4): nearest grid 2x1 -> 2 tiles + a thumbnail = 3
    pair = Sample(
        id="pair", prompt="Which has more?", answer="1", images=[*wide.images, *square.images]
    )
    samples = [square, wide, video, pair, text]
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=1, max_new_tokens=4, seed=0)
    )
    # tiles per image in batch order: square, wide, the video's 4 frames, the pair's 2 images
    assert batch.image_spans == [5, 3, 1, 1, 1, 1, 3, 5]
    assert batch.images_per_row == [1, 1, 4, 2, 0]
    assert batch.prompt_inputs["pixel_values"].shape[0] == 20  # sum of the spans
    full = _row_logprobs(model, batch.prompt_inputs, batch, list(range(5)))
    for rows in ([1], [3], [2], [3, 1]):  # middle rows, a video, two rows out of order
        selected = batch.select(rows)
        alone = family.encode([samples[r] for r in rows])
        torch.testing.assert_close(selected["pixel_values"], alone["pixel_values"], atol=0, rtol=0)
        torch.testing.assert_close(_row_logprobs(model, selected, batch, rows), full[rows])


def test_internvl_max_frames_counts_only_the_kept_frames(count_samples, video):
    """With ``max_frames`` the rollout layout counts the frames the model sees (2 of 4)."""
    model, _, family = _load("tiny-internvl-tiles")
    family.max_frames = 2
    samples = [video, count_samples[0]]
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=1, max_new_tokens=3, seed=0)
    )
    assert batch.images_per_row == [2, 1] and batch.image_spans == [1, 1, 5]
    selected = batch.select([1])
    torch.testing.assert_close(
        selected["pixel_values"], family.encode([count_samples[0]])["pixel_values"]
    )
    full = _row_logprobs(model, batch.prompt_inputs, batch, [0, 1])
    torch.testing.assert_close(_row_logprobs(model, selected, batch, [1])[0], full[1])


# ----------------------------------------------------------------------------- frame counts
@pytest.mark.parametrize("name", VIDEO_FAMILIES)
def test_videos_of_different_lengths_in_one_batch_name_the_sample(name, video):
    """OneVision and InternVL stack a batch's videos into one tensor; SmolVLM2's processor
    would describe a 3-frame clip as "four frames" beside a 4-frame one."""
    _, _, family = _load(name)
    short = replace(video, id="short", images=video.images[:3])
    with pytest.raises(ValueError, match="sample 'short' has 3 video frames.*'clip'.*has 4"):
        family.encode([video, short])
    family.max_frames = 3  # the advertised fix: both videos become 3 frames
    assert family.encode([video, short])["input_ids"].shape[0] == 2


def test_families_without_video_name_the_ones_with_it(video):
    for name in ("tiny-smolvlm", "tiny-llava"):  # Idefics3's processor has no video
        model, processor = load_policy(name)
        family = family_for(model.config.model_type, processor)
        assert not family.supports_video
        with pytest.raises(ValueError, match="sample 'clip' is a video.*takes no video") as err:
            family.encode([video])
        listed = re.search(r"video families: \[(.*)\]", str(err.value)).group(1)
        listed = set(re.findall(r"'(\w+)'", listed))
        assert {
            "qwen2_vl",
            "qwen2_5_vl",
            "qwen3_vl",
            "llava_onevision",
            "internvl",
            "smolvlm",
        } <= listed
        assert not listed & {"idefics3", "llava", "llava_next", "gemma3"}
