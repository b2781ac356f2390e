"""The reward contract, its registry, and the two helpers every reward shares.

Design note: a reward is a plain function

    fn(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]

scoring a batch (one completion per sample, same order). It returns ``"overall"`` (the scalar
that trains) plus named components (``"format"``, ``"accuracy"``, ...) that are only logged; this
is EasyR1's convention, and it keeps "why did reward go up" answerable from the logs. Rewards
are registered by name in ``REWARDS`` and tasks point at theirs via ``Task.reward_name``.

A reward that raises on one odd completion, or returns NaN or inf for it, must not kill a run:
``safe_reward`` retries the batch element by element and gives the offending completions 0.0,
counted and logged by reward and sample. A reward that breaks the contract itself (wrong number
of values, strings for numbers) raises ``RewardError`` at the first batch instead: scoring every
completion with its one value would train on nonsense. Timeouts and the abort on steady failure
are in ``rewards/guard.py``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Mapping

from mmrft.data.sample import Sample
from mmrft.registry import Registry
from mmrft.rewards.guard import (
    GuardedReward,
    RewardError,
    RewardTimeout,
    deadline,
    reward_name,
)

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


def check_scores(scores: object, samples: list[Sample], name: str) -> dict[str, list[float]]:
    """A reward's output as ``{component: [float per completion]}``, or ``RewardError``.

    The contract: a mapping with ``"overall"``, each component a list of one number per
    completion (``bool``, ``int``, ``float``, numpy / torch scalars). A string such as ``"1.5"``
    is refused, not parsed: it means the reward is not computing what its author thinks.
    """
    n = len(samples)
    if not isinstance(scores, Mapping) or "overall" not in scores:
        got = sorted(scores) if isinstance(scores, Mapping) else type(scores).__name__
        raise RewardError(f"reward {name!r} must return a dict with an 'overall' key, got {got}")
    out = {}
    for key, values in scores.items():
        if isinstance(values, (str, bytes, Mapping)) or not hasattr(values, "__len__"):
            raise RewardError(
                f"reward {name!r}: component {key!r} must be a list of {n} numbers (one per "
                f"completion), got {type(values).__name__}"
            )
        if len(values) != n:
            raise RewardError(
                f"reward {name!r} returned {len(values)} values of {key!r} for {n} completions "
                "(expected one per completion)"
            )
        out[key] = [_number(v, name, key, s) for v, s in zip(values, samples, strict=True)]
    return out


def _number(value: object, name: str, key: str, sample: Sample) -> float:
    """``value`` as a float if it is a number (not a string that looks like one)."""
    if not isinstance(value, (str, bytes)) and hasattr(type(value), "__float__"):
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):  # e.g. a tensor of several elements
            pass
    raise RewardError(
        f"reward {name!r} returned {value!r} ({type(value).__name__}) as {key!r} for sample "
        f"{sample.id!r}; a reward's values must be numbers"
    )


def safe_reward(
    fn: RewardFn, completions: list[str], samples: list[Sample]
) -> tuple[dict[str, list[float]], int]:
    """Score the batch with ``fn``; a completion it fails on scores 0.0 and is counted.

    Returns ``(scores, n_failed)``. A completion fails when ``fn`` raises on it (the batch is
    then retried element by element to find which), when any of its values is NaN or inf, or
    when the call runs past ``fn``'s timeout (a ``GuardedReward``, see ``rewards/guard.py``;
    every completion of that call fails). Failures are logged at WARNING naming the reward and
    the sample (the first ``MAX_WARNINGS`` of a call). Every returned component has one value
    per completion (0.0 where it failed or where an element's call did not produce that
    component). A broken contract (not a dict with ``overall``, a wrong number of values, a
    value that is not a number) is a bug in the reward, not in one completion: it raises
    ``RewardError`` naming the reward at the first batch.

    >>> def brittle(completions, samples):
    ...     return {"overall": [1.0 / len(c) for c in completions]}
    >>> s = Sample(id="a", prompt="", answer="")
    >>> safe_reward(brittle, ["ab", ""], [s, s])
    ({'overall': [0.5, 0.0]}, 1)
    """
    if len(completions) != len(samples):
        raise ValueError(f"{len(completions)} completions for {len(samples)} samples")
    guard = fn if isinstance(fn, GuardedReward) else None
    timeout = guard.timeout_s if guard else None
    name = reward_name(fn)
    failures: dict[int, str] = {}  # completion index -> why it failed
    try:
        with deadline(timeout):
            raw = fn(completions, samples)
        scores = check_scores(raw, samples, name)
    except RewardTimeout:
        scores = {"overall": [0.0] * len(completions)}
        failures = dict.fromkeys(range(len(completions)), _timed_out(timeout))
    except RewardError:
        raise
    except Exception:  # find which elements fail, and score the rest
        scores, failures = _one_by_one(fn, completions, samples, name, timeout)
    for i, key in _non_finite(scores):
        failures.setdefault(i, f"returned {scores[key][i]} as {key!r}")
    for i in failures:
        for values in scores.values():
            values[i] = 0.0
    _warn(name, samples, failures)
    if guard is not None:
        guard.record(len(failures), len(completions), next(iter(failures.values()), ""))
    return scores, len(failures)


MAX_WARNINGS = 5
"""Failures logged one by one per reward call; the rest are summed up in one line."""


TIMED_OUT = "timed out"


def _timed_out(timeout: float | None) -> str:
    return f"{TIMED_OUT} after {timeout:g} s"


def _one_by_one(
    fn: RewardFn, completions: list[str], samples: list[Sample], name: str, timeout: float | None
) -> tuple[dict[str, list[float]], dict[int, str]]:
    """Score element by element, all within one ``timeout``; ``(scores, failures)``."""
    rows: list[dict[str, list[float]] | None] = [None] * len(completions)
    failures: dict[int, str] = {}
    try:
        with deadline(timeout):
            for i, (completion, sample) in enumerate(zip(completions, samples, strict=True)):
                try:
                    raw = fn([completion], [sample])
                except Exception as e:
                    failures[i] = repr(e)
                    continue
                rows[i] = check_scores(raw, [sample], name)
    except RewardTimeout:
        for i, row in enumerate(rows):
            if row is None and i not in failures:
                failures[i] = _timed_out(timeout)
    keys = ["overall"] + sorted({k for r in rows if r for k in r} - {"overall"})
    scores = {k: [r[k][0] if r and k in r else 0.0 for r in rows] for k in keys}
    return scores, failures


def _non_finite(scores: dict[str, list[float]]) -> Iterator[tuple[int, str]]:
    """``(index, component)`` of every NaN or infinite value."""
    for key, values in scores.items():
        for i, v in enumerate(values):
            if not math.isfinite(v):
                yield i, key


def _warn(name: str, samples: list[Sample], failures: dict[int, str]) -> None:
    """WARNINGs naming the reward and samples: one for the completions a timeout cut, then one
    per other failed completion, at most ``MAX_WARNINGS``."""
    cut = [i for i, reason in failures.items() if reason.startswith(TIMED_OUT)]
    if cut:
        ids = ", ".join(repr(samples[i].id) for i in cut[:MAX_WARNINGS])
        more = ", ..." if len(cut) > MAX_WARNINGS else ""
        logger.warning(
            "reward %s %s on %d completions (samples %s%s): scored 0",
            name,
            failures[cut[0]],
            len(cut),
            ids,
            more,
        )
    others = sorted(set(failures) - set(cut))
    for i in others[:MAX_WARNINGS]:
        logger.warning(
            "reward %s failed on sample %s: %s; scored 0", name, samples[i].id, failures[i]
        )
    if len(others) > MAX_WARNINGS:
        logger.warning(
            "reward %s failed on %d more completions of this call",
            name,
            len(others) - MAX_WARNINGS,
        )


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
