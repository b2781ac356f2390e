"""Length shaping: DAPO's overlong soft penalty and an n-gram repetition penalty.

Design note: both are penalties (<= 0), meant to be *added* to an accuracy reward with
``compose_rewards``; neither is registered under a bare name because each needs a length budget
or a scale that only the run knows, so build them with the factories below.

Overlong (DAPO, Yu et al., 2025, eq. 13), with ``L`` the completion length, ``L_max`` the
generation limit and ``L_cache`` the soft band before it::

    R(L) = 0                               if L <= L_max - L_cache
         = ((L_max - L_cache) - L) / L_cache   if L_max - L_cache < L <= L_max
         = -1                              if L > L_max

``L`` is measured by ``count(completion)``: characters by default; pass a tokenizer-based
counter (``lambda s: len(tok(s).input_ids)``) to measure in tokens as DAPO does. Lengths are
not read from ``sample.meta`` because one Sample is shared by every completion in its group.

Repetition: with ``n``-grams of whitespace-separated words, ``repeated = 1 - distinct / total``
(0 for no repeats, -> 1 for a loop); the penalty is ``-scale * repeated``. Completions with
fewer than ``n`` words have no n-grams and get 0.
"""

from __future__ import annotations

from collections.abc import Callable

from mmrft.data.sample import Sample
from mmrft.rewards.base import RewardFn


def overlong_penalty(length: int, max_length: int, cache: int) -> float:
    """DAPO's soft overlong penalty in [-1, 0] (equation above).

    >>> [overlong_penalty(n, max_length=100, cache=20) for n in (50, 80, 90, 100, 101)]
    [0.0, 0.0, -0.5, -1.0, -1.0]
    """
    if not 0 < cache <= max_length:
        raise ValueError(f"need 0 < cache <= max_length, got cache={cache}, max={max_length}")
    if length <= max_length - cache:
        return 0.0
    if length <= max_length:
        return ((max_length - cache) - length) / cache
    return -1.0


def make_overlong_reward(
    max_length: int, cache: int, count: Callable[[str], int] = len
) -> RewardFn:
    """A reward returning ``{"overall": penalty, "overlong": penalty}`` per completion.

    >>> fn = make_overlong_reward(max_length=10, cache=4)
    >>> fn(["short", "x" * 8, "x" * 20], [Sample(id="x", prompt="", answer="")] * 3)
    {'overall': [0.0, -0.5, -1.0], 'overlong': [0.0, -0.5, -1.0]}
    """
    overlong_penalty(0, max_length, cache)  # validate now, not at the first step

    def overlong_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        scores = [overlong_penalty(count(c), max_length, cache) for c in completions]
        return {"overall": scores, "overlong": list(scores)}

    return overlong_reward


def repeated_ngram_fraction(text: str, n: int = 3) -> float:
    """``1 - distinct / total`` word n-grams; 0.0 when there are none.

    >>> repeated_ngram_fraction("a b c d e"), repeated_ngram_fraction("go go go go go go", n=2)
    (0.0, 0.8)
    """
    words = text.split()
    total = len(words) - n + 1
    if total <= 0:
        return 0.0
    distinct = len({tuple(words[i : i + n]) for i in range(total)})
    return 1.0 - distinct / total


def make_repetition_reward(n: int = 3, scale: float = 1.0) -> RewardFn:
    """A reward returning ``-scale * repeated_ngram_fraction`` as "overall" and "repetition".

    Word 3-grams by default: long enough that ordinary prose rarely repeats one, short enough
    to catch a phrase loop.

    >>> fn = make_repetition_reward(n=2)
    >>> fn(["the cat sat", "go go go go go go"], [Sample(id="x", prompt="", answer="")] * 2)
    {'overall': [0.0, -0.8], 'repetition': [0.0, 0.8]}
    """

    def repetition_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        rep = [repeated_ngram_fraction(c, n) for c in completions]
        return {"overall": [-scale * r if r else 0.0 for r in rep], "repetition": rep}

    return repetition_reward
