"""The reward contract, its registry, and the two helpers every reward shares.

Design note: a reward is a plain function

    fn(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]

scoring a batch (one completion per sample, same order). It returns ``"overall"`` (the scalar
that trains) plus named components (``"format"``, ``"accuracy"``, ...) that are only logged; this
is EasyR1's convention, and it keeps "why did reward go up" answerable from the logs. Rewards
are registered by name in ``REWARDS`` and tasks point at theirs via ``Task.reward_name``.

A reward that raises on one odd completion must not kill a run: ``safe_reward`` retries the
batch element by element and gives the offending completions 0.0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from mmrft.data.sample import Sample
from mmrft.registry import Registry

logger = logging.getLogger(__name__)

RewardFn = Callable[[list[str], list[Sample]], dict[str, list[float]]]
AnswerScorer = Callable[[str | None, Sample], "float | Mapping[str, float]"]
REWARDS: Registry[RewardFn] = Registry("reward")

ANSWER_OPEN, ANSWER_CLOSE = "<answer>", "</answer>"


def extract_answer(text: str) -> str | None:
    """Stripped content of the last ``<answer>...</answer>`` block; None if absent or unterminated.

    Only the last opening tag counts, so a completion that trails off after a new ``<answer>``
    (e.g. cut at the token limit) has no answer rather than an earlier, abandoned one.

    >>> extract_answer("<think>2 or 3?</think><answer> 3 </answer>")
    '3'
    >>> extract_answer("<answer>3</answer><answer>4</answer>")
    '4'
    >>> extract_answer("<answer>3</answer><answer>4") is None
    True
    >>> extract_answer("the answer is 3") is None
    True
    """
    start = text.rfind(ANSWER_OPEN)
    if start < 0:
        return None
    start += len(ANSWER_OPEN)
    end = text.find(ANSWER_CLOSE, start)
    if end < 0:
        return None
    return text[start:end].strip()


def _check(scores: object, n: int) -> dict[str, list[float]]:
    """Validate a reward's output and coerce the values to float."""
    if not isinstance(scores, dict) or "overall" not in scores:
        raise ValueError("a reward must return a dict with an 'overall' key")
    out = {}
    for key, values in scores.items():
        values = [float(v) for v in values]
        if len(values) != n:
            raise ValueError(f"reward component {key!r} has {len(values)} values for {n} samples")
        out[key] = values
    return out


def safe_reward(
    fn: RewardFn, completions: list[str], samples: list[Sample]
) -> tuple[dict[str, list[float]], int]:
    """Call ``fn`` on the batch; if it raises, score element by element with 0.0 for failures.

    Returns ``(scores, n_failed)``. Each failing completion is logged once at WARNING with its
    sample id. Every returned component has one value per completion (0.0 where it failed or
    where an element's call did not produce that component).

    >>> def brittle(completions, samples):
    ...     return {"overall": [1.0 / len(c) for c in completions]}
    >>> s = Sample(id="a", prompt="", answer="")
    >>> safe_reward(brittle, ["ab", ""], [s, s])
    ({'overall': [0.5, 0.0]}, 1)
    """
    if len(completions) != len(samples):
        raise ValueError(f"{len(completions)} completions for {len(samples)} samples")
    try:
        return _check(fn(completions, samples), len(completions)), 0
    except Exception:
        pass  # fall through: find which elements fail, and score the rest
    name = getattr(fn, "__name__", repr(fn))
    rows: list[dict[str, list[float]] | None] = []
    for completion, sample in zip(completions, samples, strict=True):
        try:
            rows.append(_check(fn([completion], [sample]), 1))
        except Exception as e:
            logger.warning("reward %s failed on sample %s: %r", name, sample.id, e)
            rows.append(None)
    keys = ["overall"] + sorted({k for r in rows if r for k in r} - {"overall"})
    scores = {k: [r[k][0] if r and k in r else 0.0 for r in rows] for k in keys}
    return scores, sum(r is None for r in rows)


# The answer-checking rewards share the "count" reward's split: accuracy carries the signal and
# a small format term gives a gradient early on, while every correct answer (>= 0.9) stays far
# above every wrong one (<= 0.1), so format can never be traded for correctness.
ACCURACY_WEIGHT = 0.9
FORMAT_WEIGHT = 0.1


def score_answers(
    completions: list[str], samples: list[Sample], accuracy: AnswerScorer
) -> dict[str, list[float]]:
    """The shared skeleton of answer-checking rewards: ``0.9 * accuracy + 0.1 * format``.

    ``accuracy(answer, sample)`` gets the last answer block (None when absent or unterminated)
    and returns a score in [0, 1], or a mapping with an ``"accuracy"`` key plus extra components
    to log (e.g. ``"iou"``). Extra components must be the same keys for every completion.

    >>> s = Sample(id="x", prompt="", answer="yes")
    >>> score_answers(["<answer>yes</answer>", "yes"], [s, s], lambda a, s: float(a == s.answer))
    {'overall': [1.0, 0.0], 'format': [1.0, 0.0], 'accuracy': [1.0, 0.0]}
    """
    from mmrft.rewards.layout import is_well_formatted

    out: dict[str, list[float]] = {"overall": [], "format": []}
    for completion, sample in zip(completions, samples, strict=True):
        result = accuracy(extract_answer(completion), sample)
        parts = dict(result) if isinstance(result, Mapping) else {"accuracy": result}
        fmt = float(is_well_formatted(completion))
        out["overall"].append(ACCURACY_WEIGHT * float(parts["accuracy"]) + FORMAT_WEIGHT * fmt)
        out["format"].append(fmt)
        for key, value in parts.items():
            out.setdefault(key, []).append(float(value))
    return out
