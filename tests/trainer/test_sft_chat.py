"""SFT on chat rows and traces: which tokens carry loss, rows with nothing to learn, length grouping."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from PIL import Image

import mmrft.trainer.sft as sft
from mmrft.build.sft import drop_replyless
from mmrft.data.chat import sft_examples
from mmrft.data.jsonl import read_jsonl
from mmrft.data.sample import Sample
from mmrft.data.stream import ProblemStream
from mmrft.models import family_for, load_policy
from mmrft.models.tiny import TINY_MODELS
from mmrft.trainer.sft import (
    encode_prompts,
    encode_targets,
    expand,
    sft_backward,
    sft_loss,
    with_history,
)

SYSTEM, U1, A1, U2, A2 = "Be exact.", "How many shapes?", "Let me count: 3.", "And doubled?", "6"


def _chat_sample(tmp_path, count_samples):
    image = count_samples[0].images[0]
    image.save(tmp_path / "a.png")
    row = {
        "id": "conv",
        "answer": "6",
        "images": ["a.png"],
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": U1}]},
            {"role": "assistant", "content": A1},
            {"role": "user", "content": U2},
            {"role": "assistant", "content": A2},
        ],
    }
    (tmp_path / "chat.jsonl").write_text(json.dumps(row) + "\n")
    (sample,) = read_jsonl(tmp_path / "chat.jsonl").samples
    return sample


def test_a_conversation_gives_one_example_per_assistant_turn(tmp_path, count_samples):
    sample = _chat_sample(tmp_path, count_samples)
    assert sample.prompt == f"{SYSTEM}\n\n{U2}" and sample.meta["response"] == A2
    (first, t1), (second, t2) = sft_examples(sample)
    assert (first.prompt, t1, "history" not in first.meta) == (f"{SYSTEM}\n\n{U1}", A1, True)
    assert second.prompt == U2 and t2 == A2
    assert second.meta["history"] == [
        {"role": "user", "content": f"{SYSTEM}\n\n{U1}"},
        {"role": "assistant", "content": A1},
    ]
    assert first.images == second.images == sample.images and second.answer == "6"


def test_loss_falls_on_assistant_tokens_only(tmp_path, count_samples, tiny_vlm, vlm_family):
    """By hand: render each turn's prompt with the processor's own chat template, append the
    reply's tokens + EOS, run the model on the whole sequence and average -log p (vision
    placeholders excluded from the softmax, as when sampling) over exactly the reply
    positions; sft_loss must give that number."""
    model, processor = tiny_vlm
    tok = vlm_family.tokenizer
    sample = _chat_sample(tmp_path, count_samples)
    image_and = lambda text: [{"type": "image"}, {"type": "text", "text": text}]  # noqa: E731
    text = lambda t: [{"type": "text", "text": t}]  # noqa: E731
    conversations = [  # what the model must see before each reply
        [{"role": "user", "content": image_and(f"{SYSTEM}\n\n{U1}")}],
        [
            {"role": "user", "content": image_and(f"{SYSTEM}\n\n{U1}")},
            {"role": "assistant", "content": text(A1)},
            {"role": "user", "content": text(U2)},
        ],
    ]
    nll, n_tokens = 0.0, 0
    with torch.no_grad():
        for messages, reply in zip(conversations, (A1, A2), strict=True):
            prompt = processor.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            inputs = processor(text=[prompt], images=sample.images, return_tensors="pt")
            target = tok(reply, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            p = inputs["input_ids"].shape[1]
            ids = torch.cat([inputs["input_ids"], torch.tensor([target])], 1)
            full = {**inputs, "input_ids": ids, "attention_mask": torch.ones_like(ids)}
            full["mm_token_type_ids"] = torch.cat(
                [inputs["mm_token_type_ids"], torch.zeros(1, len(target), dtype=torch.long)], 1
            )
            logits = model(**full).logits[0].float()  # [P+L, V]
            logits[:, vlm_family.suppressed_token_ids()] = float("-inf")  # never sampled
            logp = torch.log_softmax(logits, -1)
            for j, token in enumerate(target):  # position p+j-1 predicts token p+j
                nll -= logp[p + j - 1, token].item()
            n_tokens += len(target)
            # the earlier reply A1 sits in the second prompt, where it carries no loss
            assert A1 in tok.decode(inputs["input_ids"][0]) or messages is conversations[0]
        loss, _ = sft_loss(model, vlm_family, [sample])
    assert loss.item() == pytest.approx(nll / n_tokens, rel=1e-4)


def test_the_history_prompt_is_the_chat_template_of_the_whole_conversation(
    tmp_path, count_samples, vlm_family
):
    sample = _chat_sample(tmp_path, count_samples)
    prompts, _ = expand([sample])
    ids = encode_prompts(vlm_family, prompts[1:])["input_ids"][0]
    shown = vlm_family.tokenizer.decode(ids)
    order = [shown.index(x) for x in (SYSTEM, U1, A1, U2)]
    assert order == sorted(order) and shown.count("<|im_start|>assistant") == 2


def test_a_chat_row_without_an_assistant_turn_is_skipped_and_counted(tmp_path, caplog):
    rows = [
        {"id": "ok", "answer": "1", "messages": [{"role": "user", "content": "a?"},
                                                  {"role": "assistant", "content": "1"}]},
        {"id": "mute", "answer": "2", "messages": [{"role": "user", "content": "b?"}]},
        {"id": "trace", "answer": "3", "prompt": "c?", "response": "so 3 <answer>3</answer>"},
        {"id": "plain", "answer": "4", "prompt": "d?"},
    ]  # fmt: skip
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    samples = read_jsonl(tmp_path / "d.jsonl").samples
    kept, dropped = drop_replyless(ProblemStream.from_samples(samples, 0), "d.jsonl", 0)
    assert [s.id for s in kept.samples] == ["ok", "trace", "plain"]
    assert [(s.id, r) for s, r in dropped] == [
        (
            "mute",
            "row 'mute': 'messages' has no assistant turn, so SFT has no target (add the "
            "reply as a final assistant turn, or a 'response' field)",
        )
    ]
    assert "skipped 1 of 4 rows" in caplog.text and "'mute'" in caplog.text
    targets = [t for s in kept.samples for _, t in sft_examples(s)]
    assert targets == ["1", "so 3 <answer>3</answer>", "<answer>4</answer>"]


def _grads(model) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_length_grouping_pads_less_and_keeps_the_gradient(fresh_vlm, vlm_family, count_samples,
                                                          monkeypatch):  # fmt: skip
    model, _ = fresh_vlm
    lengths = [1, 24, 2, 22]  # alternate short and long traces
    samples = [
        dataclasses.replace(s, meta={"response": "x " * n})
        for s, n in zip(count_samples[:4], lengths, strict=True)
    ]
    padded: list[int] = []
    real = sft.sft_loss

    def counting(model, family, parts, denom, targets):
        ids, mask = targets
        padded.append(int(mask.numel() - mask.sum().item()))  # target padding of this forward
        return real(model, family, parts, denom, targets=targets)

    monkeypatch.setattr(sft, "sft_loss", counting)
    results = {}
    for grouped in (False, True):
        padded.clear()
        model.zero_grad(set_to_none=True)
        loss, _ = sft_backward(model, vlm_family, samples, 2, group_by_length=grouped)
        results[grouped] = (loss, sum(padded), _grads(model))
    (loss0, pad0, g0), (loss1, pad1, g1) = results[False], results[True]
    # file order pairs (1, 24), (2, 22): 23 + 20 pads; grouped (24, 22), (2, 1): 2 + 1 (in
    # words; the tokenizer shifts the counts, not the ordering argument)
    assert pad1 < pad0 / 2
    assert loss1 == pytest.approx(loss0, rel=1e-5)
    for a, b in zip(g0, g1, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_expanded_targets_end_with_eos(vlm_family, count_samples):
    _, texts = expand(count_samples[:2])
    ids, mask = encode_targets(vlm_family, texts)
    assert texts == [f"<answer>{s.answer}</answer>" for s in count_samples[:2]]
    assert all(row[int(m.sum()) - 1] == vlm_family.tokenizer.eos_token_id
               for row, m in zip(ids, mask, strict=True))  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("name", TINY_MODELS.names())
def test_every_family_renders_the_history_and_trains_on_it(name):
    """Each family's chat template shows the earlier turns before the last user turn (the
    ``with_history`` override), and the multi-turn loss is finite."""
    model, processor = load_policy(name, seed=0)
    family = family_for(model.config.model_type, processor)
    audio = family.supports_audio
    media = {"audios": [np.zeros(16000, np.float32)]} if audio else {}
    if family.multimodal and not audio:
        media = {"images": [Image.fromarray(np.full((64, 64, 3), 120, np.uint8))]}
    turns = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": U1},
        {"role": "assistant", "content": A1},
        {"role": "user", "content": U2},
        {"role": "assistant", "content": A2},
    ]
    meta = {"messages": turns, **({"sampling_rate": 16000} if audio else {})}
    sample = Sample("c", U2, A2, meta=meta, **media)
    (_, _), (second, _) = sft_examples(sample)
    shown = with_history(family).prompt_text(second)
    order = [shown.index(x) for x in (SYSTEM, U1, A1, U2)]
    assert order == sorted(order)
    loss, _ = sft_loss(model, family, [sample])
    assert torch.isfinite(loss) and loss.item() > 0
