"""How the eval runner scores completions: a benchmark scorer (two modes) or a task reward (one).

Both adapters give the runner one interface::

    score_fn.modes                                  # ("official", "strict") or ("reward",)
    score_fn.score(predictions, samples, mode)      # -> (results, n_failed)
    score_fn.aggregate(samples, results, mode)      # -> benchmark-level numbers (MME acc+, ...)

Each result is a scorer result dict (``score`` in [0, 1], ``extracted``, ``flags``). Scoring
never raises on content: a sample the scorer cannot read (no ``meta["record"]``, a missing field)
or a scorer error scores 0 with the flag ``scoring_failed`` and an ``error`` message, and is
counted, so one odd record cannot end a long evaluation and the denominator stays honest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from mmrft.data.sample import Sample
from mmrft.eval.scorers import MODES, SCORERS
from mmrft.rewards.base import RewardFn, extract_answer, safe_reward

logger = logging.getLogger(__name__)

REWARD_MODE = "reward"
"""The single mode of reward scoring: task rewards have no official/strict distinction."""


def failed(error: str) -> dict[str, Any]:
    """The result of a completion that could not be scored (or generated)."""
    return {"score": 0.0, "extracted": None, "flags": ["scoring_failed"], "error": error}


class BenchmarkScoring:
    """A registered benchmark scorer applied to ``{**sample.meta["record"], "prediction": text}``."""

    modes: tuple[str, ...] = MODES

    def __init__(self, scorer: str) -> None:
        self.name = scorer
        self.scorer = SCORERS.get(scorer)()

    def score(
        self, predictions: Sequence[str], samples: Sequence[Sample], mode: str
    ) -> tuple[list[dict[str, Any]], int]:
        results, n_failed = [], 0
        for text, sample in zip(predictions, samples, strict=True):
            record = sample.meta.get("record")
            try:
                if not isinstance(record, dict):
                    raise ValueError("sample has no meta['record'] for the scorer")
                results.append(self.scorer.score({**record, "prediction": text}, mode))
            except Exception as e:  # a scorer bug on one odd record must not end the run
                n_failed += 1
                if n_failed <= 5:
                    logger.warning(
                        "%s (%s): sample %s not scored: %s", self.name, mode, sample.id, e
                    )
                results.append(failed(f"{type(e).__name__}: {e}"))
        return results, n_failed

    def aggregate(
        self, samples: Sequence[Sample], results: Sequence[dict[str, Any]], mode: str
    ) -> dict[str, Any]:
        records = [
            {**(s.meta.get("record") or {}), **r} for s, r in zip(samples, results, strict=True)
        ]
        return self.scorer.aggregate(records)


class RewardScoring:
    """A task reward: ``score`` is its ``accuracy`` component (``overall`` if it has none);
    ``extracted`` is the last ``<answer>`` block (what maj@k votes on); the reward's other
    components ride along in the result (``overall``, ``format``, ...)."""

    modes: tuple[str, ...] = (REWARD_MODE,)

    def __init__(self, reward_fn: RewardFn, name: str = "") -> None:
        self.reward_fn = reward_fn
        self.name = name or getattr(reward_fn, "__name__", "reward")

    def score(
        self, predictions: Sequence[str], samples: Sequence[Sample], mode: str = REWARD_MODE
    ) -> tuple[list[dict[str, Any]], int]:
        if mode != REWARD_MODE:
            raise ValueError(f"reward scoring has the single mode {REWARD_MODE!r}, got {mode!r}")
        scores, n_failed = safe_reward(self.reward_fn, list(predictions), list(samples))
        key = "accuracy" if "accuracy" in scores else "overall"
        results = []
        for i, text in enumerate(predictions):
            extracted = extract_answer(text)
            extra = {k: v[i] for k, v in scores.items() if k != key}
            flags = [] if extracted is not None else ["no_answer"]
            results.append(
                {"score": scores[key][i], "extracted": extracted, "flags": flags, **extra}
            )
        return results, n_failed

    def aggregate(
        self, samples: Sequence[Sample], results: Sequence[dict[str, Any]], mode: str
    ) -> dict[str, Any]:
        """Mean of every numeric reward component (``overall``, ``format``, ...)."""
        n = len(results)
        keys = [k for k in results[0] if k not in ("score", "extracted", "flags")] if n else []
        out: dict[str, Any] = {"n": n, "mean": sum(r["score"] for r in results) / n if n else 0.0}
        for key in keys:
            values = [r[key] for r in results if isinstance(r.get(key), (int, float))]
            if values:
                out[key] = sum(values) / len(values)
        return out
