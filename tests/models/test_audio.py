"""Qwen2-Audio end to end on a tiny offline model: audio tokens per clip, generate, log-probs
against a plain forward pass, batch invariance, a training step, save/load, refusals; and the
WAV reader/writer with the JSONL ``audios`` field."""

from __future__ import annotations

import json
import wave
from dataclasses import replace

import numpy as np
import pytest
import torch
from logprob_reference import logprobs_and_embeds, nll_step, reference_logprobs

from mmrft.data.audio import load_clip, read_wav, resample, write_wav
from mmrft.data.jsonl import read_jsonl
from mmrft.data.sample import Sample
from mmrft.models import FAMILIES, TINY_MODELS, family_for, load_policy, save_policy
from mmrft.models.families_audio import Qwen2AudioFamily
from mmrft.models.logprobs import completion_logprobs
from mmrft.rollout import HFSampler, SamplingParams

RATE = 16_000


def _noise(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    return (0.3 * np.random.default_rng(seed).standard_normal(round(seconds * rate))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def built():
    model, processor = load_policy("tiny-qwen2-audio")
    return model.eval(), processor, family_for(model.config.model_type, processor)


@pytest.fixture(scope="module")
def samples():
    """One 0.5 s clip; a text-only row; two clips (1 s and 0.25 s) in one prompt."""
    one = Sample(id="one", prompt="How many beeps?", answer="1", audios=[_noise(0.5, 0)])
    text = Sample(id="text", prompt="How many are there?", answer="0")
    two = Sample(
        id="two", prompt="Which is longer?", answer="1", audios=[_noise(1.0, 1), _noise(0.25, 2)]
    )
    return [one, text, two]


def _audio_id(model) -> int:
    return model.config.audio_token_id


def test_registered_with_module_paths_that_exist(built):
    model, processor, family = built
    assert "tiny-qwen2-audio" in TINY_MODELS
    assert FAMILIES.get("qwen2_audio") is Qwen2AudioFamily and type(family) is Qwen2AudioFamily
    for path in (family.language_model, *family.vision_tower, *family.projector):
        model.get_submodule(path)  # raises if the path is wrong
    assert type(model.get_submodule("model.audio_tower")).__name__ == "Qwen2AudioEncoder"
    vocab = processor.tokenizer.get_vocab()
    placeholders = {vocab[t] for t in ("<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>")}
    assert set(family.suppressed_token_ids()) == placeholders
    assert vocab["<|AUDIO|>"] == _audio_id(model)


def test_audio_tokens_per_clip(built, samples):
    """Hand count: T samples -> ceil(T / 160) mel frames -> stride-2 conv -> 2x average pool.
    0.5 s = 8000 samples -> 50 frames -> 25 -> 12 tokens; 1 s -> 100 -> 50 -> 25;
    0.25 s -> 25 frames -> 13 -> 6. Rows: [12, 0, 25 + 6]."""
    model, _, family = built
    inputs = family.encode(samples)
    assert inputs["input_features"].shape == (3, 32, 200)  # 3 clips, 32 mel bins, 2 s padded
    assert inputs["feature_attention_mask"].sum(-1).tolist() == [50, 100, 25]
    is_audio = inputs["input_ids"] == _audio_id(model)  # [3, P]
    assert is_audio.sum(1).tolist() == [12, 0, 31]
    starts = is_audio & ~torch.nn.functional.pad(is_audio, (1, 0))[:, :-1]
    assert starts.sum(1).tolist() == [1, 0, 2]  # one contiguous run per clip
    # the model agrees: its merge raises "Audio features and audio tokens do not match" if the
    # encoder's valid outputs per clip differ from the tokens placed
    with torch.no_grad():
        out = model(**inputs)
    assert out.logits.shape[:2] == inputs["input_ids"].shape


def test_clips_at_another_rate_are_resampled(built):
    """0.5 s at 8 kHz (4000 samples) is resampled to 8000 samples at 16 kHz: 12 tokens."""
    model, _, family = built
    clip = _noise(0.5, 3, rate=8000)
    s = Sample(id="slow", prompt="Hi", answer="0", audios=[clip], meta={"sampling_rate": 8000})
    inputs = family.encode([s])
    assert inputs["feature_attention_mask"].sum().item() == 50
    assert (inputs["input_ids"] == _audio_id(model)).sum().item() == 12


def test_generate_then_logprobs_match_full_forward(built, samples):
    model, _, family = built
    sampler = HFSampler(model, family)
    batch = sampler.generate(samples, SamplingParams(n=2, max_new_tokens=6, seed=0))
    assert batch.completion_ids.shape[0] == 6 and batch.sample_index == [0, 0, 1, 1, 2, 2]
    assert batch.audios_per_row == [1, 1, 0, 0, 2, 2] and batch.images_per_row == [0] * 6
    for token in sampler.suppressed:  # placeholders never sampled
        assert not (batch.completion_ids == token).any()
    ids, mask = batch.completion_ids, batch.completion_mask
    with torch.no_grad():
        logp, _ = completion_logprobs(model, batch.prompt_inputs, ids, mask)
    reference = reference_logprobs(model, batch.prompt_inputs, ids, mask)
    assert logp.shape == ids.shape
    torch.testing.assert_close(logp, reference, atol=1e-5, rtol=1e-5)
    # the audio matters: another clip, other log-probs
    other = family.encode([replace(samples[0], audios=[_noise(0.5, 9)])])
    with torch.no_grad():
        swapped, _ = completion_logprobs(model, other, ids[:1], mask[:1])
    assert not torch.allclose(swapped[0], logp[0], atol=1e-4)


def test_a_sample_encodes_the_same_alone_and_in_a_mixed_batch(built, samples):
    model, _, family = built
    tok = family.tokenizer
    ids = tok("<answer>3</answer>", add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids, mask = torch.tensor([ids]), torch.ones(1, len(ids))
    batch = family.encode(samples)
    assert (batch["attention_mask"][:, 0] == 0).any()  # some row is left padded
    batch_logp, batch_embeds = logprobs_and_embeds(model, batch, ids, mask)
    for row, sample in enumerate(samples):
        alone = family.encode([sample])
        keep = batch["attention_mask"][row].bool()
        assert torch.equal(batch["input_ids"][row, keep], alone["input_ids"][0]), sample.id
        logp, embeds = logprobs_and_embeds(model, alone, ids, mask)
        is_audio = alone["input_ids"][0] == _audio_id(model)
        assert int(is_audio.sum()) == [12, 0, 31][row]
        torch.testing.assert_close(batch_embeds[row, keep], embeds[0], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(batch_logp[row], logp[0], atol=1e-5, rtol=1e-5)


def test_selecting_rows_slices_features_by_clip(built, samples):
    """RolloutBatch.select keeps each row's own clips: same log-probs as encoding it alone."""
    model, _, family = built
    batch = HFSampler(model, family).generate(samples, SamplingParams(n=2, max_new_tokens=4))
    ids, mask = batch.completion_ids, batch.completion_mask
    for rows, sample in (([4, 5], samples[2]), ([2], samples[1]), ([0], samples[0])):
        sub = batch.select(rows)
        want = sum(len(samples[batch.sample_index[r]].audios) for r in rows)
        assert sub.get("input_features", torch.empty(0)).shape[0] == want
        alone = family.encode([sample] * len(rows))
        with torch.no_grad():
            a, _ = completion_logprobs(model, sub, ids[rows], mask[rows])
            b, _ = completion_logprobs(model, alone, ids[rows], mask[rows])
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_one_training_step_changes_language_and_audio_weights(samples):
    model, processor = load_policy("tiny-qwen2-audio")  # a fresh copy to train
    family = family_for(model.config.model_type, processor)
    batch = HFSampler(model, family).generate(
        samples, SamplingParams(n=2, max_new_tokens=4, seed=0)
    )
    changed = nll_step(model, batch)
    for path in (family.language_model, *family.vision_tower, *family.projector):
        assert any(n.startswith(path + ".") for n in changed), path
    assert any(n.startswith("model.audio_tower.layers.0.") for n in changed)


def test_save_and_load_round_trip(built, samples, tmp_path):
    model, processor, family = built
    save_policy(model, processor, tmp_path)
    reloaded, reprocessor = load_policy(str(tmp_path))
    assert type(reloaded) is type(model)
    refamily = family_for(reloaded.config.model_type, reprocessor)
    assert type(refamily) is Qwen2AudioFamily
    a, b = family.encode(samples), refamily.encode(samples)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    with torch.no_grad():
        assert torch.equal(model(**a).logits, reloaded.eval()(**b).logits)


def test_lora_adapts_the_language_model_only_and_freezing_hits_the_audio_tower():
    from mmrft.models.lora import apply_lora, freeze_vision

    model, processor = load_policy("tiny-qwen2-audio")
    family = family_for(model.config.model_type, processor)
    audio = sum(p.numel() for p in model.get_submodule("model.audio_tower").parameters())
    projector = sum(
        p.numel() for p in model.get_submodule("model.multi_modal_projector").parameters()
    )
    assert freeze_vision(model, family) == audio + projector
    assert not any(p.requires_grad for p in model.get_submodule("model.audio_tower").parameters())
    peft = apply_lora(model, family, rank=4)
    adapted = {n for n, p in peft.named_parameters() if p.requires_grad}
    assert adapted and all(".language_model.layers." in n and "lora_" in n for n in adapted)
    # the Whisper-style encoder's own q/k/v_proj got no adapters
    assert not any("audio_tower" in n and "lora_" in n for n, _ in peft.named_parameters())


# ------------------------------------------------------------------------------- refusals
def test_audio_sample_is_refused_by_an_image_family(vlm_family, samples):
    with pytest.raises(ValueError, match=r"sample 'one' has 1 audio clip\(s\).*qwen2_audio"):
        vlm_family.encode([samples[0]])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"audios": [_noise(0.05, 0)]}, r"audio clip 0 is 0\.050 s, shorter than"),
        ({"audios": [_noise(0.5, 0), _noise(2.5, 0)]}, r"audio clip 1 is 2\.50 s, longer than"),
        ({"audios": [np.zeros((2, 8000), np.float32)]}, r"clip 0 has shape \(2, 8000\)"),
        ({"prompt": "Say <|AUDIO|> twice"}, r"contains '<\|AUDIO\|>'"),
    ],
)
def test_bad_audio_input_names_the_sample(built, samples, change, message):
    _, _, family = built
    bad = replace(samples[0], id="bad", **change)
    with pytest.raises(ValueError, match="sample 'bad'.*" + message):
        family.encode([samples[1], bad])


def test_images_are_refused_by_the_audio_family(built, samples, count_samples):
    _, _, family = built
    bad = replace(samples[0], id="pic", images=count_samples[0].images)
    with pytest.raises(ValueError, match="sample 'pic' has 1 image.*takes audio only"):
        family.encode([bad])


# ------------------------------------------------------------------------------- WAV files
def test_wav_round_trip(tmp_path):
    """16-bit PCM: each sample comes back within half a quantisation step (2**-15 / 2)."""
    wav = np.sin(np.linspace(0, 40, 1234)).astype(np.float32) * 0.9
    path = write_wav(tmp_path / "a.wav", wav, 22050)
    back, rate = read_wav(path)
    assert rate == 22050 and back.dtype == np.float32 and back.shape == (1234,)
    assert np.abs(back - wav).max() <= 0.5 / 2**15 + 1e-7
    # stereo files are averaged to mono: left = +0.5, right = -0.25 -> 0.125
    pcm = np.tile(np.array([16384, -8192], "<i2"), 10)
    with wave.open(str(tmp_path / "s.wav"), "wb") as f:
        f.setnchannels(2), f.setsampwidth(2), f.setframerate(RATE), f.writeframes(pcm.tobytes())
    stereo, _ = read_wav(tmp_path / "s.wav")
    np.testing.assert_allclose(stereo, np.full(10, 0.125), atol=1e-7)


def test_resample_is_linear_interpolation():
    """A ramp at 8 kHz doubled to 16 kHz: the new points are the midpoints (exact)."""
    ramp = np.arange(4, dtype=np.float32)  # 0 1 2 3
    np.testing.assert_allclose(resample(ramp, 8000, 16000), [0, 0.5, 1, 1.5, 2, 2.5, 3, 3])
    np.testing.assert_array_equal(resample(ramp, RATE, RATE), ramp)
    assert len(resample(np.zeros(44100), 44100)) == RATE


def test_jsonl_audio_rows_load_and_bad_files_are_skipped(tmp_path):
    clip = (np.arange(800) % 50 / 100).astype(np.float32)  # 0.1 s at 8 kHz
    write_wav(tmp_path / "clips" / "ok.wav", clip, 8000)
    (tmp_path / "clips" / "junk.wav").write_bytes(b"not a wav file at all")
    rows = [
        {"id": "ok", "prompt": "How many?", "answer": "1", "audios": ["clips/ok.wav"]},
        {"id": "missing", "prompt": "How many?", "answer": "1", "audios": ["clips/no.wav"]},
        {"id": "junk", "prompt": "How many?", "answer": "1", "audios": "clips/junk.wav"},
        {"id": "plain", "prompt": "How many?", "answer": "0"},
    ]
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = read_jsonl(path)
    assert [s.id for s in result.samples] == ["ok", "plain"]
    assert [n for n, _ in result.skipped] == [2, 3]
    assert result.skipped[0][1] == "line 2: audio 'clips/no.wav' not found"
    assert result.skipped[1][1].startswith("line 3: audio 'clips/junk.wav' cannot be decoded")
    ok = result.samples[0]
    assert ok.meta["sampling_rate"] == RATE and ok.audios[0].shape == (1600,)  # 8 -> 16 kHz
    np.testing.assert_allclose(ok.audios[0], load_clip(tmp_path / "clips" / "ok.wav"))
    np.testing.assert_allclose(ok.audios[0][::2], clip, atol=0.5 / 2**15 + 1e-7)
    assert result.samples[1].audios == [] and "sampling_rate" not in result.samples[1].meta


def test_write_jsonl_keeps_the_clips(tmp_path):
    """A sample with audio survives write_jsonl -> read_jsonl (clips within half a 16-bit step)."""
    from mmrft.data.jsonl import write_jsonl

    clips = [np.linspace(-0.5, 0.5, 1600, dtype=np.float32), np.zeros(800, np.float32)]
    sample = Sample(id="a/b", prompt="How many?", answer="2", audios=clips, meta={"k": 1})
    write_jsonl([sample, Sample(id="t", prompt="Hi", answer="0")], tmp_path / "d.jsonl")
    assert sorted(p.name for p in (tmp_path / "audios").iterdir()) == ["a_b-1.wav", "a_b.wav"]
    back = read_jsonl(tmp_path / "d.jsonl")
    assert not back.skipped and [s.id for s in back.samples] == ["a/b", "t"]
    got = back.samples[0]
    assert got.meta == {"k": 1, "sampling_rate": RATE} and len(got.audios) == 2
    for want, have in zip(clips, got.audios, strict=True):
        np.testing.assert_allclose(have, want, atol=0.5 / 2**15 + 1e-7)
    assert back.samples[1].audios == []


# ------------------------------------------------------------------------------- beeps task
def _count_bursts(wav: np.ndarray, threshold: float = 0.06) -> int:
    """Runs of 10 ms frames whose RMS exceeds ``threshold`` (hiss is 0.02 RMS, the quietest
    beep peaks at 0.25): an independent count from the waveform alone."""
    frames = wav[: len(wav) // 160 * 160].reshape(-1, 160)
    loud = np.sqrt((frames**2).mean(1)) > threshold  # [n_frames]
    return int((loud & ~np.concatenate([[False], loud[:-1]])).sum())


def test_beeps_task_answers_match_the_waveform():
    import doctest

    import mmrft.models.families_audio
    import mmrft.tasks.audio
    from mmrft.rewards import REWARDS
    from mmrft.tasks import TASKS

    for module in (mmrft.tasks.audio, mmrft.models.families_audio):
        assert doctest.testmod(module).failed == 0
    task = TASKS.get("beeps")()
    assert task.reward_name in REWARDS and task.levels == (1, 2, 3, 4, 5)
    for level in task.levels:
        for seed in range(6):
            s = task.generate(seed, level)
            again = task.generate(seed, level)
            np.testing.assert_array_equal(s.audios[0], again.audios[0])
            assert s.meta == again.meta and s.images == [] and s.id == f"beeps-L{level}-{seed}"
            json.dumps(s.meta)  # survives a JSONL row
            assert _count_bursts(s.audios[0]) == int(s.answer) == len(s.meta["beeps"]), s.id
            lo, hi = (1, 3) if level == 1 else (1, 5) if level == 2 else (1, 9)
            assert lo <= int(s.answer) <= hi
            starts = [b[0] for b in s.meta["beeps"]] + [len(s.audios[0])]
            ends = [0] + [b[1] for b in s.meta["beeps"]]
            # >= 50 ms (800 samples) of silence before, between and after the beeps
            assert min(b - a for a, b in zip(ends, starts, strict=True)) >= 800
    assert task.generate(0, 3).audios[0].tobytes() != task.generate(1, 3).audios[0].tobytes()
    gold = task.generate(4, 2)
    assert REWARDS.get("count")([f"<answer>{gold.answer}</answer>"], [gold])["accuracy"] == [1.0]


def test_beeps_samples_encode_for_the_audio_family_only(built, vlm_family):
    """1.5 s -> 150 frames -> 75 -> 37 audio tokens; an image family refuses the sample."""
    model, _, family = built
    from mmrft.tasks import TASKS

    s = TASKS.get("beeps")().generate(0, 5)
    inputs = family.encode([s])
    assert (inputs["input_ids"] == _audio_id(model)).sum().item() == 37
    with pytest.raises(ValueError, match=f"sample '{s.id}' has 1 audio clip"):
        vlm_family.encode([s])
