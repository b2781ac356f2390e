"""Distillation by rejection sampling: scoring traces, the keep rules, statistics, the dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from mmrft.data.jsonl import read_jsonl
from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS
from mmrft.rollout.base import SamplingParams
from mmrft.trainer.distill import (
    NoCorrectTraces,
    PromptTraces,
    Trace,
    sample_traces,
    select_traces,
    trace_stats,
    write_sft_dataset,
)


class ScriptedSampler:
    """A rollout engine that answers each prompt with fixed completions (one token per char)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], SamplingParams]] = []

    def generate(self, samples, params):
        self.calls.append(([s.id for s in samples], params))
        texts = [self.answers[s.id][j] for s in samples for j in range(params.n)]
        index = [i for i in range(len(samples)) for _ in range(params.n)]
        width = max(len(t) for t in texts)
        mask = torch.tensor([[1.0] * len(t) + [0.0] * (width - len(t)) for t in texts])
        return type("Batch", (), {"texts": texts, "sample_index": index, "completion_mask": mask})


def trace(text: str, correct: bool) -> Trace:
    return Trace(text, float(correct), correct, n_tokens=len(text))


def group(sample_id: str, *traces: Trace, task: str = "count") -> PromptTraces:
    return PromptTraces(Sample(sample_id, "How many?", "3", task=task), list(traces))


# --- sampling and scoring -------------------------------------------------------------------


def test_sample_traces_scores_each_trace_with_the_reward(count_samples):
    a, b = count_samples[:2]
    answers = {
        a.id: [f"<answer>{a.answer}</answer>", "<answer>99</answer>", "no tags", f"{a.answer}"],
        b.id: ["<answer>0</answer>"] * 3 + [f"<think>hm</think><answer>{b.answer}</answer>"],
    }
    sampler = ScriptedSampler(answers)
    got = sample_traces(sampler, [a, b], 4, REWARDS.get("count"), prompts_per_call=1, seed=5)
    assert [g.sample.id for g in got] == [a.id, b.id]
    assert [t.correct for t in got[0].traces] == [True, False, False, False]
    assert [t.correct for t in got[1].traces] == [False, False, False, True]
    assert [t.text for t in got[1].traces] == answers[b.id]
    assert got[0].traces[0].n_tokens == len(answers[a.id][0])  # the mask's length
    # one engine call per chunk of prompts_per_call problems, each seeded seed + chunk
    assert [(ids, p.n, p.seed) for ids, p in sampler.calls] == [([a.id], 4, 5), ([b.id], 4, 6)]


# --- selection --------------------------------------------------------------------------------


def test_keep_rules_by_hand():
    g1 = group("p1", trace("long 3", True), trace("4", False), trace("3", True), trace("aa3", True))
    g2 = group("p2", trace("5", False), trace("6", False))  # nothing correct: never kept
    g3 = group("p3", trace("ab", True), trace("ba", True))  # a tie: the earlier draw wins
    texts = lambda kept: {g.sample.id: [t.text for t in g.traces] for g in kept}  # noqa: E731
    assert texts(select_traces([g1, g2, g3], "all")) == {
        "p1": ["long 3", "3", "aa3"],
        "p3": ["ab", "ba"],
    }
    assert texts(select_traces([g1, g2, g3], "shortest")) == {"p1": ["3"], "p3": ["ab"]}
    assert texts(select_traces([g1, g2, g3], "max_m", 2)) == {
        "p1": ["long 3", "3"],
        "p3": ["ab", "ba"],
    }
    assert texts(select_traces([g1, g2, g3], "max_m", 1)) == {"p1": ["long 3"], "p3": ["ab"]}
    assert g1.n_correct == 3  # selection does not change its input


def test_shortest_counts_tokens_before_characters():
    short_tokens = Trace("a long text", 1.0, True, n_tokens=2)
    short_chars = Trace("abc", 1.0, True, n_tokens=3)
    kept = select_traces([group("p", short_chars, short_tokens)], "shortest")
    assert kept[0].traces == [short_tokens]


def test_bad_keep_rule_and_missing_m_are_clear():
    g = group("p", trace("3", True))
    with pytest.raises(ValueError, match="unknown keep rule 'longest'"):
        select_traces([g], "longest")
    with pytest.raises(ValueError, match="max_per_prompt"):
        select_traces([g], "max_m", None)


# --- statistics -------------------------------------------------------------------------------


def test_stats_pass_at_k_and_lengths_by_hand():
    # k = 4; p1 has 2 correct, p2 has 0, p3 (another task) has 1
    p1 = group("p1", trace("3", True), trace("x", False), trace("333", True), trace("y", False))
    p2 = group("p2", *(trace("n", False) for _ in range(4)))
    p3 = group("p3", trace("ab", False), trace("abcd", True), trace("b", False), trace("c", False),
               task="clevr")  # fmt: skip
    sampled = [p1, p2, p3]
    stats = trace_stats(sampled, select_traces(sampled, "all"))
    every = stats["all"]
    # pass@1 = mean(c/k) = (2/4 + 0 + 1/4) / 3 = 0.25
    assert every["pass@1"] == pytest.approx(0.25)
    # pass@2 = 1 - C(k-c,2)/C(4,2): p1 1 - 1/6 = 5/6, p2 0, p3 1 - 3/6 = 1/2 -> (5/6 + 1/2) / 3
    assert every["pass@2"] == pytest.approx((5 / 6 + 1 / 2) / 3)
    # pass@4: p1 and p3 solved at least once -> 2/3
    assert every["pass@4"] == pytest.approx(2 / 3)
    assert (every["traces"], every["correct"], every["kept"]) == (12, 3, 3)
    assert every["kept_fraction"] == pytest.approx(3 / 12)
    # kept traces "3", "333", "abcd": tokens (one per char here) 1, 3, 4
    assert every["mean_tokens"] == pytest.approx(8 / 3)
    assert every["mean_chars"] == pytest.approx(8 / 3)
    assert stats["count"]["pass@4"] == pytest.approx(0.5)  # p1 yes, p2 no
    assert stats["clevr"]["kept_fraction"] == pytest.approx(1 / 4)
    # shortest keeps one per solved prompt: "3" and "abcd"
    shortest = trace_stats(sampled, select_traces(sampled, "shortest"))["all"]
    assert (shortest["kept"], shortest["mean_chars"], shortest["pass@1"]) == (2, 2.5, 0.25)


# --- the dataset on disk ----------------------------------------------------------------------


def test_dataset_reads_back_with_mmrfts_loader(tmp_path, count_samples):
    a, b = count_samples[:2]
    kept = [
        PromptTraces(a, [trace(f"<think>one</think><answer>{a.answer}</answer>", True),
                         trace(f"<answer>{a.answer}</answer>", True)]),
        PromptTraces(b, [trace(f"<answer>{b.answer}</answer>", True)]),
    ]  # fmt: skip
    path = write_sft_dataset(tmp_path / "data" / "train.jsonl", kept)
    loaded = read_jsonl(path)
    assert loaded.skipped == []
    assert len(loaded.samples) == 3
    expected = [(a, kept[0].traces[0]), (a, kept[0].traces[1]), (b, kept[1].traces[0])]
    for got, (src, _) in zip(loaded.samples, expected, strict=True):
        assert (got.prompt, got.answer, got.task) == (src.prompt, src.answer, src.task)
        assert len(got.images) == len(src.images) == 1
        assert np.array_equal(np.asarray(got.images[0]), np.asarray(src.images[0].convert("RGB")))
        assert {k: v for k, v in got.meta.items() if k != "response"} == src.meta
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["response"] for r in rows] == [tr.text for _, tr in expected]
    # the same reward still verifies each trace against the row's reference
    scores = REWARDS.get("count")([r["response"] for r in rows], loaded.samples)
    assert scores["overall"] == [1.0, 1.0, 1.0]
    assert [r["id"] for r in rows] == [f"{a.id}-t0", f"{a.id}-t1", f"{b.id}-t0"]
    assert rows[0]["images"] == rows[1]["images"] == [f"images/{a.id}.png"]  # one PNG per problem
    assert sorted(p.name for p in (path.parent / "images").iterdir()) == sorted(
        [f"{a.id}.png", f"{b.id}.png"]
    )


def test_loader_gives_the_trace_as_the_sft_target(tmp_path, count_samples):
    a = count_samples[0]
    text = f"<think>one</think><answer>{a.answer}</answer>"
    path = write_sft_dataset(tmp_path / "train.jsonl", [PromptTraces(a, [trace(text, True)])])
    assert read_jsonl(path).samples[0].meta["response"] == text


def test_nothing_correct_writes_nothing(tmp_path):
    sampled = [group("p1", trace("4", False), trace("5", False))]
    kept = select_traces(sampled, "all")
    assert kept == []
    with pytest.raises(NoCorrectTraces, match="solved none"):
        write_sft_dataset(tmp_path / "data" / "train.jsonl", kept)
    assert not (tmp_path / "data").exists()
