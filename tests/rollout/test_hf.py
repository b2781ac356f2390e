"""HF rollout engine: group layout, EOS masking, suppressed tokens, row selection."""

from __future__ import annotations

import pytest
import torch

from mmrft.models.logprobs import completion_logprobs
from mmrft.rollout import HFSampler, SamplingParams
from mmrft.rollout.hf import completion_mask_from_ids


def test_completion_mask_stops_after_first_eos():
    eos, pad = 2, 0
    ids = torch.tensor([[5, 6, 2, 0, 0], [5, 2, 7, 2, 0], [5, 6, 7, 8, 9]])
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.float)
    assert torch.equal(completion_mask_from_ids(ids, eos, pad), expected)


def test_generate_group_layout_and_masks(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    sampler = HFSampler(model, vlm_family, batch_size=5)  # forces 3 chunks for 12 rows
    batch = sampler.generate(count_samples[:3], SamplingParams(n=4, max_new_tokens=6, seed=0))
    assert batch.sample_index == [0] * 4 + [1] * 4 + [2] * 4
    assert batch.completion_ids.shape[0] == 12 and len(batch.texts) == 12
    assert batch.prompt_inputs["input_ids"].shape[0] == 12
    assert batch.prompt_inputs["image_grid_thw"].shape == (12, 3)
    # padding after EOS is masked and filled with pad
    pad = vlm_family.tokenizer.pad_token_id
    assert (batch.completion_ids[batch.completion_mask == 0] == pad).all()


def test_seeded_generation_repeats(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    sampler = HFSampler(model, vlm_family)
    a = sampler.generate(count_samples[:2], SamplingParams(n=3, max_new_tokens=6, seed=7))
    b = sampler.generate(count_samples[:2], SamplingParams(n=3, max_new_tokens=6, seed=7))
    assert torch.equal(a.completion_ids, b.completion_ids)


def test_suppressed_tokens_are_never_sampled(fresh_vlm, vlm_family, count_samples):
    """Make <|image_pad|> the most likely token: it must still never appear in completions."""
    model, _ = fresh_vlm
    image_id = model.config.image_token_id
    with torch.no_grad():
        model.lm_head.weight[image_id] *= 0
        model.lm_head.weight[image_id] += model.lm_head.weight.abs().max() * 50
    sampler = HFSampler(model, vlm_family)
    batch = sampler.generate(count_samples[:2], SamplingParams(n=4, max_new_tokens=8, seed=0))
    assert not (batch.completion_ids == image_id).any()
    # and the trainer can score what was sampled (no "image features and tokens do not match")
    logp, _ = completion_logprobs(
        model,
        batch.prompt_inputs,
        batch.completion_ids,
        batch.completion_mask,
        suppressed_ids=sampler.suppressed,
    )
    assert torch.isfinite(logp).all()


def test_select_rows_matches_full_batch(tiny_vlm, vlm_family, count_samples):
    model, _ = tiny_vlm
    batch = HFSampler(model, vlm_family).generate(
        count_samples[:3], SamplingParams(n=2, max_new_tokens=5, seed=1)
    )
    rows = [5, 0, 3]
    with torch.no_grad():
        full, _ = completion_logprobs(
            model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
        )
        part, _ = completion_logprobs(
            model, batch.select(rows), batch.completion_ids[rows], batch.completion_mask[rows]
        )
    assert torch.allclose(full[rows], part, atol=1e-5)


def _trainer_logits(model, batch):
    with torch.no_grad():
        _, logits = completion_logprobs(
            model, batch.prompt_inputs, batch.completion_ids, batch.completion_mask
        )
    return logits.float()  # [N, L, V]


def test_engine_logprobs_are_the_sampling_distribution(tiny_vlm, vlm_family, count_samples):
    """Recorded log-probs = log-softmax of the warped logits, recomputed here by hand."""
    model, _ = tiny_vlm
    sampler = HFSampler(model, vlm_family, batch_size=4)  # chunks: concat keeps log-probs
    suppressed = vlm_family.suppressed_token_ids()
    for temp, top_k in ((1.0, 0), (0.7, 0), (0.7, 5)):
        batch = sampler.generate(
            count_samples[:3],
            SamplingParams(n=2, temperature=temp, top_k=top_k, max_new_tokens=6, seed=0),
        )
        logits = _trainer_logits(model, batch) / temp  # [N, L, V]
        logits[..., suppressed] = float("-inf")
        if top_k:  # keep the k largest, as the sampler's top-k warper does
            kth = logits.topk(top_k, dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        expected = torch.log_softmax(logits, -1).gather(-1, batch.completion_ids[..., None])[..., 0]
        mask = batch.completion_mask.bool()
        assert torch.allclose(batch.logprobs[mask], expected[mask], atol=1e-4), (temp, top_k)
    greedy = sampler.generate(count_samples[:1], SamplingParams(n=1, temperature=0.0))
    assert greedy.logprobs is None


def test_checkpoint_generation_config_does_not_change_sampling(
    fresh_vlm, vlm_family, count_samples
):
    """A checkpoint's own sampling defaults (Qwen2.5-VL ships top_k=1) must not leak in."""
    model, _ = fresh_vlm
    model.generation_config.top_k = 1
    model.generation_config.repetition_penalty = 5.0
    batch = HFSampler(model, vlm_family).generate(
        count_samples[:1], SamplingParams(n=8, max_new_tokens=6, seed=0)
    )
    assert len({tuple(r) for r in batch.completion_ids.tolist()}) > 1  # top_k=1 would be greedy
    assert model.generation_config.top_k == 1  # and the checkpoint's config is left as it was


def _left_trim(t, width):
    return t[..., -width:]


@pytest.mark.parametrize(
    ("model_name", "tasks"),
    [
        ("tiny-qwen2.5-vl", ("motion", "count", "compare_count")),  # video, 1 and 2 images
        ("tiny-llava", ("compare_count", "count")),  # per-image pixel_values
    ],
)
def test_selecting_rows_of_a_mixed_batch_equals_encoding_them_alone(model_name, tasks):
    from mmrft.models import family_for, load_policy
    from mmrft.tasks import TASKS

    model, processor = load_policy(model_name, seed=0)
    family = family_for(model.config.model_type, processor)
    samples = [TASKS.get(t)().generate(3, 1) for t in tasks]
    batch = HFSampler(model, family, batch_size=3).generate(  # chunks: concat must keep layout
        samples, SamplingParams(n=2, max_new_tokens=3, seed=0)
    )
    for i, sample in enumerate(samples):
        alone = family.encode([sample, sample])
        sub = batch.subset([2 * i, 2 * i + 1]).prompt_inputs
        assert sorted(sub) == sorted(alone), sample.id
        for key, value in alone.items():
            got = sub[key]
            if key in ("input_ids", "attention_mask", "mm_token_type_ids"):
                got = _left_trim(got, value.shape[-1])  # the batch is left-padded wider
            assert torch.equal(got, value), (sample.id, key)


def test_make_sampler_passes_the_engine_options_from_config(monkeypatch):
    from mmrft.build import make_sampler
    from mmrft.config import load_config
    from mmrft.rollout import SAMPLERS

    seen = {}

    class Recorder:
        def __init__(self, model, family, **options):
            seen.update(options)

    from mmrft.registry import Entry

    monkeypatch.setitem(SAMPLERS._items, "vllm", Entry(Recorder))
    cfg = load_config(
        None, ["rollout.engine=vllm", "rollout.vllm_kv_cache_gib=2", "rollout.vllm_sleep=false"]
    )
    make_sampler(cfg.rollout, None, None)
    assert seen == {
        "gpu_memory_utilization": 0.3,
        "kv_cache_gib": 2.0,
        "sync": "auto",
        "sleep": False,
    }
    assert isinstance(make_sampler(load_config(None).rollout, *_tiny()), HFSampler)


def _tiny():
    from mmrft.models import family_for, load_policy

    model, tok = load_policy("tiny-qwen2", seed=0)
    return model, family_for(model.config.model_type, tok)


def test_sampling_uses_the_full_distribution():
    """No hidden top-k: transformers applies a default top_k=50 unless told otherwise, which
    once cut off every digit of the digit-first sanity task while the recorded log-probs (taken
    before transformers' own warpers) still looked right."""
    from mmrft.data.sample import Sample

    model, family = _tiny()
    samples = [Sample(id="0", prompt="Say something.", answer="")]
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=512, max_new_tokens=1, seed=0)
    )
    distinct = len(set(batch.completion_ids[:, 0].tolist()))
    assert distinct > 100  # a near-uniform 512-token softmax gives ~300; top-50 at most 50


MIXED_FAMILIES = [
    "tiny-qwen2-vl",
    "tiny-qwen2.5-vl",
    "tiny-qwen3-vl",
    "tiny-smolvlm",
    "tiny-smolvlm2",
    "tiny-llava",
    "tiny-llava-next",
    "tiny-llava-onevision",
    "tiny-gemma3",
    "tiny-internvl",
    "tiny-internvl-tiles",
    "tiny-qwen2-audio",
]


@pytest.mark.parametrize("model_name", MIXED_FAMILIES)
def test_chunked_rollouts_score_each_sample_as_if_alone(model_name):
    """Rollouts generated in chunks (joined by concat_batches) and cut back per sample (subset)
    give each sample the log-probs it has encoded alone: image, two-image, text-only and, where
    the family takes them, video (or audio) rows; chunks of 3 rows split groups and kinds."""
    from mmrft.data.sample import Sample
    from mmrft.models import family_for, load_policy
    from mmrft.models.logprobs import completion_logprobs
    from mmrft.tasks import TASKS

    if model_name == "tiny-smolvlm2":
        pytest.importorskip("num2words")
    model, processor = load_policy(model_name, seed=0)
    family = family_for(model.config.model_type, processor)
    tasks = ["count", "compare_count"] + (["motion"] if family.supports_video else [])
    if family.supports_audio:
        tasks = ["beeps", "beeps"]
    samples = [TASKS.get(t)().generate(3 + k, 1) for k, t in enumerate(tasks)]
    samples.append(Sample(id="text", prompt="Say a number.", answer="1"))
    batch = HFSampler(model, family, batch_size=3).generate(
        samples, SamplingParams(n=2, max_new_tokens=3, seed=0)
    )
    with torch.no_grad():
        for i, sample in enumerate(samples):
            sub = batch.subset([2 * i, 2 * i + 1])
            ids, mask = sub.completion_ids, sub.completion_mask
            got, _ = completion_logprobs(model, sub.prompt_inputs, ids, mask)
            want, _ = completion_logprobs(model, family.encode([sample, sample]), ids, mask)
            torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5, msg=sample.id)
