"""Preference pairs: a prompt (text + images) with a preferred and a dispreferred completion.

Design note: pairs come from one of two places, and both end as ``Pair`` objects.

* A pair file (JSONL): one row per pair, the standard row fields (``mmrft.data.rows``: ``prompt``
  or ``messages``, ``images``, ``id``, ``meta``, ...) parsed by the same ``sample_from_row``
  (so images, path confinement and chat messages mean what they mean everywhere), plus
  ``chosen`` and ``rejected``, the two completion texts. ``answer`` and ``id`` are optional here
  (a pair needs no reference answer; a missing id becomes ``line-N``). A row with a missing,
  empty or non-string ``chosen`` / ``rejected``, or with the two equal (no preference to
  learn), is skipped and recorded as ``(line, "line N: reason")``, like a bad dataset line.
* Rollouts ranked by the verifiable reward: ``pair_completions`` (pure, below) turns one
  prompt's scored completions into pairs; the trainer samples and scores them.

Pairing rule (``pair_completions``): a completion is *correct* when its accuracy is >= 0.5.
Identical texts are merged first (the first occurrence's scores are kept), so no two pairs of a
prompt share their incorrect completion. Correct texts are ranked by reward, highest first
(ties: the earlier completion); incorrect texts are shuffled with the given generator. Pair k
is (the (k mod #correct)-th ranked correct text, the k-th shuffled incorrect one), for
k < min(#incorrect, pairs_per_prompt): the best correct answer against different wrong ones
(a verifiable task often has one right text and many wrong ones), the next-best correct ones
coming in only when there are several. A prompt without both a correct and an incorrect
completion gives no pair.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

from mmrft.data.jsonl import read_rows
from mmrft.data.rows import BadLine, sample_from_row
from mmrft.data.sample import Sample

log = logging.getLogger(__name__)


@dataclass
class Pair:
    """One preference pair: ``chosen`` is preferred over ``rejected`` as answers to ``sample``."""

    sample: Sample
    chosen: str
    rejected: str


@dataclass
class PairLoadResult:
    """What ``read_pairs`` loaded and what it skipped: ``(line number, reason)``."""

    pairs: list[Pair] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)


def _completion(row: dict, key: str) -> str:
    value = row.get(key)
    if value is None:
        raise BadLine(f"missing field {key!r}")
    if not isinstance(value, str):
        raise BadLine(f"field {key!r} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise BadLine(f"field {key!r} is empty")
    return value


def pair_from_row(
    row: object,
    number: int,
    root: Path,
    *,
    allow_outside: bool = False,
    max_pixels: int | None = None,
) -> Pair:
    """The ``Pair`` one pair-file row describes; raises ``BadLine`` naming the field.

    >>> row = {"prompt": "2 + 5?", "chosen": "<answer>7</answer>", "rejected": "<answer>6</answer>"}
    >>> p = pair_from_row(row, 4, Path("."))
    >>> p.sample.id, p.sample.prompt, p.chosen, p.rejected
    ('line-4', '2 + 5?', '<answer>7</answer>', '<answer>6</answer>')
    """
    if not isinstance(row, dict):
        raise BadLine(f"expected a JSON object, got {type(row).__name__}")
    chosen, rejected = _completion(row, "chosen"), _completion(row, "rejected")
    if chosen == rejected:
        raise BadLine("'chosen' and 'rejected' are the same text: nothing to prefer")
    fields = {k: v for k, v in row.items() if k not in ("chosen", "rejected")}
    fields.setdefault("answer", "")
    if fields.get("id") is None:
        fields["id"] = f"line-{number}"
    sample = sample_from_row(fields, root, allow_outside=allow_outside, max_pixels=max_pixels)
    return Pair(sample, chosen, rejected)


def read_pairs(
    path: str | Path, *, allow_outside_paths: bool = False, max_pixels: int | None = None
) -> PairLoadResult:
    """Every good row of the JSONL pair file ``path``; bad rows skipped and recorded (module
    note). Image paths resolve against the file's folder and must stay inside it unless
    ``allow_outside_paths``. A missing file raises ``FileNotFoundError`` naming it."""
    path = Path(path)
    result = PairLoadResult()
    result.pairs, result.skipped = read_rows(
        path,
        lambda row, number: pair_from_row(
            row, number, path.parent, allow_outside=allow_outside_paths, max_pixels=max_pixels
        ),
        "preference pair file",
    )
    if result.skipped:
        log.warning(
            "%s: skipped %d of %d pair rows (first: %s)",
            path,
            len(result.skipped),
            len(result.skipped) + len(result.pairs),
            result.skipped[0][1],
        )
    return result


def pair_completions(
    texts: list[str],
    rewards: list[float],
    accuracies: list[float],
    pairs_per_prompt: int,
    rng: random.Random,
) -> list[tuple[int, int]]:
    """(chosen, rejected) indices into one prompt's completions, by the module note's rule.

    texts, rewards, accuracies: one entry per completion of the prompt (the reward's
    ``overall`` and ``accuracy`` components). ``rng`` shuffles the incorrect completions.

    >>> pair_completions(["a", "b", "c", "a"], [0.5, 1.0, 0.0, 0.5], [1, 1, 0, 1], 2,
    ...                  random.Random(0))
    [(1, 2)]
    >>> pair_completions(["a", "x", "y", "x"], [1.0, 0.0, 0.0, 0.0], [1, 0, 0, 0], 3,
    ...                  random.Random(0))
    [(0, 1), (0, 2)]
    """
    if not len(texts) == len(rewards) == len(accuracies):
        raise ValueError(
            f"texts, rewards and accuracies differ in length: "
            f"{len(texts)}, {len(rewards)}, {len(accuracies)}"
        )
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        first.setdefault(text, i)
    distinct = sorted(first.values())  # index of each distinct text, in order
    correct = [i for i in distinct if accuracies[i] >= 0.5]
    incorrect = [i for i in distinct if accuracies[i] < 0.5]
    correct.sort(key=lambda i: -rewards[i])  # stable: ties keep the earlier completion first
    rng.shuffle(incorrect)
    if not correct:
        return []
    count = min(len(incorrect), max(pairs_per_prompt, 0))
    return [(correct[k % len(correct)], incorrect[k]) for k in range(count)]
