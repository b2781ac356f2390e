"""EvalResult keeps per-problem values, so results on disjoint shards merge exactly."""

from __future__ import annotations

import pytest

from mmrft.eval.harness import evaluate, first_problems, merge_results
from mmrft.models import family_for, load_policy
from mmrft.rewards import REWARDS
from mmrft.rollout import HFSampler
from mmrft.tasks import TASKS


@pytest.fixture(scope="module")
def setup():
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = family_for(model.config.model_type, processor)
    task = TASKS.get("count")()
    return HFSampler(model, family), task.dataset(5, seed=3, level=1), REWARDS.get("count")


def test_metrics_are_means_over_all_draws(setup):
    sampler, samples, reward = setup
    res = evaluate(sampler, samples, reward, n_samples=3, max_new_tokens=6, seed=0)
    # Recompute independently from the same seeded draws: mean over all 15 rows.
    from mmrft.rollout.base import SamplingParams

    draws = sampler.generate(samples, SamplingParams(n=3, max_new_tokens=6, seed=0))
    accuracy = reward(draws.texts, [samples[i] for i in draws.sample_index])["accuracy"]
    assert res.accuracy == pytest.approx(sum(accuracy) / 15)
    assert res.response_length == pytest.approx(draws.completion_mask.sum().item() / 15)
    assert res.n_problems == 5 and len(res.problems["accuracy"]) == 5


def test_merging_shards_equals_one_evaluation_for_greedy(setup):
    sampler, samples, reward = setup
    whole = evaluate(sampler, samples, reward, n_samples=1, max_new_tokens=6)
    parts = [evaluate(sampler, samples[a:b], reward, n_samples=1, max_new_tokens=6)
             for a, b in ((0, 3), (3, 5))]  # fmt: skip
    merged = merge_results(parts)
    assert merged.greedy_texts == whole.greedy_texts
    assert merged.problems["greedy_accuracy"] == whole.problems["greedy_accuracy"]
    assert merged.greedy_accuracy == pytest.approx(whole.greedy_accuracy)
    head = first_problems(whole, 2)
    assert head.n_problems == 2 and head.greedy_texts == whole.greedy_texts[:2]
