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

    def metrics(self) -> dict[str, float]:
        return {
            "accuracy": self.accuracy,
            "greedy_accuracy": self.greedy_accuracy,
            "reward": self.reward,
            "greedy_reward": self.greedy_reward,
            "response_length": self.response_length,
            "n_problems": self.n_problems,
        }


def _accuracy(scores: dict[str, list[float]]) -> list[float]:
    return scores.get("accuracy", scores["overall"])


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
    # Seeded so before/after evaluations draw comparable noise; restore the RNG afterwards so
    # evaluating does not change the training trajectory.
    rng_state = torch.get_rng_state()
    sampled = sampler.generate(
        samples,
        SamplingParams(
            n=n_samples, temperature=temperature, max_new_tokens=max_new_tokens, seed=seed
        ),
    )
    greedy = sampler.generate(
        samples, SamplingParams(n=1, temperature=0.0, max_new_tokens=max_new_tokens)
    )
    torch.set_rng_state(rng_state)
    rows = [samples[i] for i in sampled.sample_index]
    s_scores, _ = safe_reward(reward_fn, sampled.texts, rows)
    g_scores, _ = safe_reward(reward_fn, greedy.texts, samples)
    mean = lambda xs: sum(xs) / max(len(xs), 1)  # noqa: E731
    return EvalResult(
        accuracy=mean(_accuracy(s_scores)),
        greedy_accuracy=mean(_accuracy(g_scores)),
        reward=mean(s_scores["overall"]),
        greedy_reward=mean(g_scores["overall"]),
        response_length=sampled.completion_mask.sum(1).mean().item(),
        n_problems=len(samples),
        greedy_texts=greedy.texts,
        greedy_correct=_accuracy(g_scores),
    )
