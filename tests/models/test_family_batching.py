"""Per family: a sample's encoding does not depend on its batch (the R1-V padding bug), video
frames for the Qwen-VL families, and the errors ``ModelFamily.encode`` raises naming a sample."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import pytest
import torch
from logprob_reference import IMAGE_AND_TEXT_FAMILIES, logprobs_and_embeds, reference_logprobs

from mmrft.data.sample import Sample
from mmrft.models import family_for, load_policy
from mmrft.models.families_anyres import LlavaFamily
from mmrft.models.logprobs import completion_logprobs
from mmrft.rollout import HFSampler, SamplingParams

FAMILIES_UNDER_TEST = IMAGE_AND_TEXT_FAMILIES
QWEN_VL = ["tiny-qwen2-vl", "tiny-qwen2.5-vl", "tiny-qwen3-vl"]


SPLIT = "tiny-smolvlm+splitting"  # image splitting on, as in the real SmolVLM checkpoints
PAN = "tiny-gemma3+pan-and-scan"  # crops of wide and tall images, as Gemma 3 offers


def _load(name: str):
    model, processor = load_policy(name.split("+")[0])
    options = {}
    if name == SPLIT:  # resized to a 128-px longest edge, then cut into 64-px tiles + a global view
        processor.image_processor.do_image_splitting = True
        processor.image_processor.size = {"longest_edge": 128}
    if name == PAN:  # crops once an image's aspect ratio reaches 1.2, each at least 16 px
        options["processor_kwargs"] = {
            "do_pan_and_scan": True,
            "pan_and_scan_min_crop_size": 16,
            "pan_and_scan_min_ratio_to_activate": 1.2,
        }
    return model.eval(), family_for(model.config.model_type, processor, **options)


@pytest.fixture(scope="module", params=[*FAMILIES_UNDER_TEST, SPLIT, PAN])
def built(request):
    return _load(request.param)


@pytest.fixture(scope="module")
def mixed(count_samples):
    """Square, wide and two-image rows with different sizes, and a text-only row."""
    a, b, c = count_samples[:3]
    wide = replace(b, id="wide", images=[b.images[0].crop((0, 0, 112, 70))])  # 112x70
    small = c.images[0].resize((84, 84))
    two = Sample(id="two", prompt="Which has more?", answer="1", images=[small, a.images[0]])
    text = Sample(id="text", prompt="How many are there?", answer="0")
    return [a, wide, text, two]


def _completion(family) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed completion, the same for every row: ids [1, L], mask [1, L]."""
    tok = family.tokenizer
    ids = tok("<answer>3</answer>", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return torch.tensor([ids]), torch.ones(1, len(ids))


def _image_token_id(model) -> int | None:
    config = model.config
    return getattr(config, "image_token_id", None) or getattr(config, "image_token_index", None)


def test_a_sample_encodes_the_same_alone_and_in_a_mixed_batch(built, mixed):
    """Prompt ids, image features (the LM's input embeddings at image tokens) and log-probs of
    a fixed completion: the same for each sample alone and inside a left-padded mixed batch."""
    model, family = built
    batch = family.encode(mixed)
    ids, mask = _completion(family)
    batch_logp, batch_embeds = logprobs_and_embeds(model, batch, ids, mask)
    assert (batch["attention_mask"][:, 0] == 0).any()  # some row really is left padded
    image_id = _image_token_id(model)
    for row, sample in enumerate(mixed):
        alone = family.encode([sample])
        assert alone["attention_mask"].all()  # a batch of one has no padding
        keep = batch["attention_mask"][row].bool()  # [P] the row's real tokens
        assert torch.equal(batch["input_ids"][row, keep], alone["input_ids"][0]), sample.id
        logp, embeds = logprobs_and_embeds(model, alone, ids, mask)
        torch.testing.assert_close(batch_embeds[row, keep], embeds[0], atol=1e-5, rtol=1e-5)
        if family.multimodal and sample.images:  # the image features themselves
            is_image = alone["input_ids"][0] == image_id
            assert is_image.any()
            diff = (batch_embeds[row, keep][is_image] - embeds[0, is_image]).abs().max()
            assert diff < 1e-5, (sample.id, diff)
        torch.testing.assert_close(batch_logp[row], logp[0], atol=1e-5, rtol=1e-5)


def _assert_rollout_rows_score_alone(model, family, rows) -> None:
    """Each sample's completions, cut out of a rollout of ``rows`` (RolloutBatch.subset), score
    as the sample encoded alone does."""
    batch = HFSampler(model, family).generate(rows, SamplingParams(n=2, max_new_tokens=3, seed=0))
    with torch.no_grad():
        for i, sample in enumerate(rows):
            sub = batch.subset([2 * i, 2 * i + 1])
            c_ids, c_mask = sub.completion_ids, sub.completion_mask
            got, _ = completion_logprobs(model, sub.prompt_inputs, c_ids, c_mask)
            alone, _ = completion_logprobs(model, family.encode([sample] * 2), c_ids, c_mask)
            torch.testing.assert_close(got, alone, atol=1e-5, rtol=1e-5, msg=sample.id)


def test_smolvlm_splitting_tiles_per_image_and_row_selection(count_samples):
    """With splitting, an image is resized to a 128-px longest edge, its sides rounded up to
    64-px multiples and cut into 64-px tiles, plus a global view: a square image is 2x2 + 1 = 5
    entries of ``pixel_values``, a 112x20 strip (128x23 -> 128x64) 2x1 + 1 = 3. ``image_spans``
    says so per image, and selecting rows of a rollout slices the tiles so that each row
    scores as it does alone."""
    model, family = _load(SPLIT)
    a, b = count_samples[:2]
    strip = b.images[0].crop((0, 0, 112, 20))
    rows = [
        a,
        replace(b, id="strip", images=[strip]),
        Sample(id="text", prompt="How many are there?", answer="0"),
        Sample(id="two", prompt="Which has more?", answer="1", images=[a.images[0], strip]),
    ]
    inputs = family.encode(rows)
    assert family.image_spans(inputs, rows) == [5, 3, 5, 3]
    assert inputs["pixel_values"].shape[0] == 16
    _assert_rollout_rows_score_alone(model, family, rows)


def test_smolvlm_splitting_asked_for_in_processor_kwargs_is_not_a_token_mismatch(count_samples):
    """Splitting switched on per call (model.processor_kwargs) while the image processor's own
    flag is off: the token check must follow the call, not the attribute."""
    model, processor = load_policy("tiny-smolvlm")
    processor.image_processor.size = {"longest_edge": 128}
    assert not processor.image_processor.do_image_splitting
    on = {"do_image_splitting": True}
    family = family_for(model.config.model_type, processor, processor_kwargs=on)
    inputs = family.encode(count_samples[:1])  # raised "image tokens ... features" before
    assert family.image_spans(inputs, count_samples[:1]) == [5]  # 2x2 tiles + global view


def test_gemma3_pan_and_scan_crops_per_image_and_row_selection(count_samples):
    """Pan-and-scan crops a 112x40 strip (aspect 2.8 >= 1.2) into round(2.8) = 3 crops of
    38x40 (>= 16 px) after its full view; a square image (aspect 1) gets none. So the strip
    spans 1 + 3 entries of ``pixel_values`` and costs 4 x ``image_seq_length`` soft tokens, and
    selecting rows of a rollout slices each image's crops with it."""
    model, family = _load(PAN)
    a, b = count_samples[:2]
    strip = b.images[0].crop((0, 0, 112, 40))
    rows = [
        a,
        replace(b, id="strip", images=[strip]),
        Sample(id="text", prompt="How many are there?", answer="0"),
        Sample(id="two", prompt="Which has more?", answer="1", images=[strip, a.images[0]]),
    ]
    inputs = family.encode(rows)  # check_encoded: soft tokens per row as the spans say
    assert family.image_spans(inputs, rows) == [1, 4, 4, 1]
    assert inputs["pixel_values"].shape[0] == 10
    seq = family.processor.image_seq_length
    soft = (inputs["input_ids"] == family.image_token_id()).sum(1).tolist()
    assert soft == [seq, 4 * seq, 0, 5 * seq]
    _assert_rollout_rows_score_alone(model, family, rows)


# ------------------------------------------------------------------------------- video
@pytest.fixture(scope="module")
def video(count_samples):
    """Four frames (two temporal patches of 2 frames) of a 112x112 'video'."""
    frames = [s.images[0] for s in count_samples[:4]]
    return Sample(id="clip", prompt="How many?", answer="3", images=frames, meta={"video": True})


@pytest.mark.parametrize("name", QWEN_VL)
def test_video_frames_become_video_tokens_and_logprobs_match(name, video, count_samples):
    model, processor = load_policy(name)
    family = family_for(model.config.model_type, processor)
    samples = [video, count_samples[0]]
    inputs = family.encode(samples)
    grid = inputs["video_grid_thw"]  # [1, 3]: (t, h, w) patches of the one video
    assert grid.shape == (1, 3) and grid[0, 0] == 2  # 4 frames / temporal patch 2
    merge = processor.video_processor.merge_size
    video_tokens = (inputs["input_ids"] == model.config.video_token_id).sum(1)
    image_tokens = (inputs["input_ids"] == model.config.image_token_id).sum(1)
    assert video_tokens.tolist() == [int(grid.prod()) // merge**2, 0]
    assert image_tokens.tolist() == [0, int(inputs["image_grid_thw"].prod()) // merge**2]
    assert (inputs["mm_token_type_ids"] == 2).sum(1).tolist() == video_tokens.tolist()

    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=2, max_new_tokens=5, seed=0)
    )
    ids, mask = batch.completion_ids, batch.completion_mask
    with torch.no_grad():
        logp, _ = completion_logprobs(model, batch.prompt_inputs, ids, mask)
    torch.testing.assert_close(
        logp, reference_logprobs(model, batch.prompt_inputs, ids, mask), atol=1e-5, rtol=1e-5
    )
    # the frames matter: other frames, other log-probs
    swapped = replace(video, images=video.images[::-1])
    with torch.no_grad():
        other, _ = completion_logprobs(model, family.encode([swapped]), ids[:1], mask[:1])
    assert not torch.allclose(other[0], logp[0], atol=1e-4)


def test_video_sample_is_refused_by_a_family_without_video(video):
    model, processor = load_policy("tiny-llava")
    family = family_for(model.config.model_type, processor)
    with pytest.raises(ValueError, match="sample 'clip' is a video.*takes no video"):
        family.encode([video])


def test_qwen_vision_sharing_skips_video_rows(video, count_samples):
    """share_vision reuses one encoder pass per group only when every row has one image."""
    model, processor = load_policy("tiny-qwen2-vl")
    family = family_for(model.config.model_type, processor)
    inputs = family.encode([video, video])
    assert family.share_vision(model, inputs, [0, 0]) is inputs
    two = replace(count_samples[0], images=count_samples[0].images * 2)
    one = family.encode([count_samples[0], two])  # 3 images over 2 rows
    assert family.share_vision(model, one, [0, 0]) is one
    alike = family.encode([count_samples[0], count_samples[0]])
    assert "pixel_values" not in family.share_vision(model, alike, [0, 0])
    # rows that repeat nothing take the same path, so every FSDP2 rank runs the encoder first
    assert "pixel_values" not in family.share_vision(model, alike, [0, 1])


# ------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("name", "token"), [("tiny-qwen2-vl", "<|image_pad|>"), ("tiny-llava", "<image>")]
)
def test_placeholder_text_in_a_prompt_names_the_sample(name, token, count_samples):
    model, processor = load_policy(name)
    family = family_for(model.config.model_type, processor)
    bad = replace(count_samples[1], id="sneaky", prompt=f"What is {token} here?")
    with pytest.raises(ValueError, match="sample 'sneaky'.*" + re.escape(token)):
        family.encode([count_samples[0], bad])


def test_a_prompt_longer_than_the_context_names_the_sample(count_samples):
    model, processor = load_policy("tiny-qwen2-vl")
    family = family_for(model.config.model_type, processor)
    # the builder's tokenizer carries the model's context
    assert family.context_length() == model.config.text_config.max_position_embeddings == 1024
    inputs = family.encode(count_samples[:1])
    length = int(inputs["attention_mask"].sum())
    family.max_length = length  # exactly at the limit: fine
    family.encode(count_samples[:1])
    longer = replace(count_samples[1], id="long", prompt=count_samples[0].prompt + " more")
    with pytest.raises(ValueError, match=r"sample 'long': the prompt is \d+ tokens.*context of"):
        family.encode([count_samples[0], longer])


@pytest.mark.parametrize("name", ["tiny-qwen2-vl", "tiny-gemma3", "tiny-smolvlm"])
def test_image_token_count_mismatch_names_the_sample(name, count_samples):
    """A row whose image tokens disagree with its images' features (here one token dropped, as
    truncation would) is reported by sample before the model's anonymous error."""
    model, processor = load_policy(name)
    family = family_for(model.config.model_type, processor)
    samples = [count_samples[0], replace(count_samples[1], id="cut")]
    inputs = family.encode(samples)
    image_id = family.image_token_id()
    assert image_id == _image_token_id(model)
    first = int((inputs["input_ids"][1] == image_id).nonzero()[0])
    inputs["input_ids"][1, first] = family.tokenizer.pad_token_id
    with pytest.raises(ValueError, match="sample 'cut': .* image tokens in the prompt"):
        family.check_encoded(inputs, samples)


def test_processor_failure_names_the_failing_sample(count_samples):
    model, processor = load_policy("tiny-llava")
    family = family_for(model.config.model_type, processor)
    broken = replace(count_samples[1], id="broken", images=[None])
    with pytest.raises(ValueError, match="sample 'broken' cannot be encoded"):
        family.encode([count_samples[0], broken, count_samples[2]])


def test_too_many_images_for_a_family_names_the_sample(count_samples):
    @dataclass
    class OneImageLlava(LlavaFamily):
        max_images = 1

    _, processor = load_policy("tiny-llava")
    family = OneImageLlava(processor=processor)
    family.encode(count_samples[:1])
    two = replace(count_samples[1], id="pair", images=count_samples[1].images * 2)
    with pytest.raises(
        ValueError, match="sample 'pair' has 2 images; OneImageLlava takes at most 1"
    ):
        family.encode([count_samples[0], two])
