"""Evaluate a policy on held-out problems: sampled accuracy (what RL optimises) and greedy accuracy.

``accuracy`` is the mean over problems and ``n_samples`` draws at the eval temperature — the
policy's own behaviour; ``greedy_accuracy`` decodes at temperature 0. Both are read from the
task reward's ``accuracy`` component (or ``overall`` when a reward has none), so evaluation and
training share one verifier.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from mmrft.data.sample import Sample
from mmrft.rewards.base import RewardFn, safe_reward
from mmrft.rollout.base import SamplingParams


@dataclass
class EvalResult:
    accuracy: float
    greedy_accuracy: float
    reward: float
    greedy_reward: float
    response_length: float
    n_problems: int
    greedy_texts: list[str] = field(default_factory=list)
    greedy_correct: list[float] = field(default_factory=list)
    problems: dict[str, list[float]] = field(default_factory=dict)
    """Per-problem values in problem order (``PER_PROBLEM`` keys), so results over disjoint
    shards of the problems merge exactly (``merge_results``)."""

    def metrics(self) -> dict[str, float]:
        return {
            "accuracy": self.accuracy,
            "greedy_accuracy": self.greedy_accuracy,
            "reward": self.reward,
            "greedy_reward": self.greedy_reward,
            "response_length": self.response_length,
            "n_problems": self.n_problems,
        }


PER_PROBLEM = ("accuracy", "greedy_accuracy", "reward", "greedy_reward", "response_length")
"""What ``EvalResult.problems`` holds per problem: sampled values are means over its draws."""


def result_from_problems(problems: dict[str, list[float]], greedy_texts: list[str]) -> EvalResult:
    """The ``EvalResult`` whose metrics are the means of per-problem ``problems``.

    Every problem weighs the same (it has ``n_samples`` draws), so the mean over problems of
    the per-problem means is the mean over all draws.
    """
    mean = lambda xs: sum(xs) / max(len(xs), 1)  # noqa: E731
    return EvalResult(
        **{key: mean(problems[key]) for key in PER_PROBLEM},
        n_problems=len(greedy_texts),
        greedy_texts=greedy_texts,
        greedy_correct=list(problems["greedy_accuracy"]),
        problems=problems,
    )


def merge_results(parts: list[EvalResult]) -> EvalResult:
    """One result for the concatenation of the problem lists ``parts`` were computed on."""
    problems = {key: [v for part in parts for v in part.problems[key]] for key in PER_PROBLEM}
    return result_from_problems(problems, [t for part in parts for t in part.greedy_texts])


def first_problems(res: EvalResult, n: int) -> EvalResult:
    """``res`` restricted to its first ``n`` problems."""
    problems = {key: values[:n] for key, values in res.problems.items()}
    return result_from_problems(problems, res.greedy_texts[:n])


def _accuracy(scores: dict[str, list[float]]) -> list[float]:
    return scores.get("accuracy", scores["overall"])


def _per_problem(values: list[float], index: list[int], n_problems: int) -> list[float]:
    """Row values -> per-problem means; row r is a draw of problem ``index[r]``."""
    sums, counts = [0.0] * n_problems, [0] * n_problems
    for value, i in zip(values, index, strict=True):
        sums[i] += value
        counts[i] += 1
    return [total / max(count, 1) for total, count in zip(sums, counts, strict=True)]


def evaluate(
    sampler,
    samples: list[Sample],
    reward_fn: RewardFn,
    *,
    n_samples: int = 4,
    temperature: float = 1.0,
    max_new_tokens: int = 16,
    seed: int = 0,
) -> EvalResult:
    """Sampled (n_samples at ``temperature``) and greedy evaluation on the same problems."""
    # Seeded so before/after evaluations draw comparable noise; the RNG (the CPU's and this
    # process's GPU's) is restored afterwards so evaluating does not change the training
    # trajectory.
    gpu = [torch.cuda.current_device()] if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=gpu):
        sampled = sampler.generate(
            samples,
            SamplingParams(
                n=n_samples, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
            ),
        )
        greedy = sampler.generate(
            samples, SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
        )
    index = sampled.sample_index
    rows = [samples[i] for i in index]
    s_scores, _ = safe_reward(reward_fn, sampled.texts, rows)
    g_scores, _ = safe_reward(reward_fn, greedy.texts, samples)
    n = len(samples)
    problems = {
        "accuracy": _per_problem(_accuracy(s_scores), index, n),
        "greedy_accuracy": list(_accuracy(g_scores)),
        "reward": _per_problem(s_scores["overall"], index, n),
        "greedy_reward": list(g_scores["overall"]),
        "response_length": _per_problem(sampled.completion_mask.sum(1).tolist(), index, n),
    }
    return result_from_problems(problems, greedy.texts)
