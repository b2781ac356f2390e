"""The "math" reward: is the answer mathematically equal to the gold answer (via math-verify)?

Design note: equivalence is HuggingFace's ``math-verify`` (LaTeX, fractions, ``\\boxed``,
percentages, sets, intervals, equations) on both sides, gold and prediction alike:

* Only the last ``<answer>...</answer>`` block is read, as in every answer-checking reward.
* A string with no math delimiter (``$``, ``\\(``, ``\\[``, ``\\boxed``) is wrapped in ``$...$``
  before parsing. Unwrapped, math-verify falls back to "the last number in the text", which
  turns a hedge like ``1, 2, 3, 4`` into ``4``; wrapped, it is the set {1, 2, 3, 4} and scores 0
  (and ``3 3 3 3`` is a product, not 3).
* An answer longer than ``MAX_ANSWER_CHARS`` scores 0 without parsing. Past roughly 2,000
  characters of space-separated tokens the LaTeX parser hits Python's recursion limit and
  math-verify falls back to "the last number in the text", so ``"3 " * 1000`` (or 999 wrong
  numbers then the right one) would score 1 while ``3 3 3 3`` scores 0. No final answer needs
  that much text; the cap also bounds parsing cost. A repeated single answer (``3, 3``) is the
  set {3} and counts as 3: it names no second candidate.
* Timeouts: math-verify bounds each parse and each comparison with ``signal.alarm``, which only
  works on the main thread. ``math_equal`` uses it there (``timeout_s`` per parse/comparison; the
  worst case is about 6x that: two parses and up to four comparisons). Off the main thread the
  alarm is unavailable, so use ``MathVerifyPool``: worker processes run math-verify on their own
  main thread with the alarm, and the parent adds a hard wall-clock limit per batch that kills
  and restarts the pool if a worker is stuck in C code the alarm cannot interrupt.

math-verify is imported lazily (it is an optional dependency: ``pip install math-verify``).
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import threading
from typing import Any

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS, score_answers

logger = logging.getLogger(__name__)

# Legitimate answers parse and compare in well under 0.5 s; pathological ones ("9^{9^{9^{9}}}",
# 300 open brackets) run until cut. math-verify's default is 5 s; 2 s bounds the stall per
# completion while leaving slow-but-valid expressions room. Its alarm takes whole seconds.
DEFAULT_TIMEOUT_S = 2
_DELIMITERS = ("$", "\\(", "\\[", "\\boxed")
# Real final answers are short; this is half the length at which the parser's recursion limit
# turns a long string into its last number (see the module note).
MAX_ANSWER_CHARS = 1000


def _math_verify() -> Any:
    try:
        import math_verify
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the 'math' reward needs math-verify: pip install 'math-verify>=0.7'"
        ) from e
    return math_verify


def _as_latex(text: str) -> str:
    """Wrap ``text`` in ``$...$`` unless it already carries a math delimiter."""
    return text if any(d in text for d in _DELIMITERS) else f"${text}$"


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str, timeout_s: int | None) -> list:
    # Gold answers repeat across a group of completions, so their parse is cached.
    return _math_verify().parse(_as_latex(gold), parsing_timeout=timeout_s)


def math_equal(pred: str | None, gold: str, *, timeout_s: int = DEFAULT_TIMEOUT_S) -> bool:
    """True iff math-verify judges ``pred`` equal to ``gold``; never raises on ``pred``.

    ``timeout_s`` (whole seconds) bounds each parse and comparison on the main thread; off the
    main thread no alarm is possible and none is used (see the module note and MathVerifyPool).
    A ``pred`` longer than ``MAX_ANSWER_CHARS`` is False without parsing.

    >>> math_equal("\\\\frac{1}{2}", "0.5"), math_equal("50\\\\%", "0.5"), math_equal("1, 2", "2")
    (True, True, False)
    """
    if not pred or not pred.strip() or len(pred) > MAX_ANSWER_CHARS:
        return False
    mv = _math_verify()
    timeout = timeout_s if threading.current_thread() is threading.main_thread() else None
    try:
        gold_parsed = _parse_gold(gold, timeout)
        pred_parsed = mv.parse(_as_latex(pred), parsing_timeout=timeout)
        if not gold_parsed or not pred_parsed:
            return False
        return bool(mv.verify(gold_parsed, pred_parsed, timeout_seconds=timeout))
    except Exception as e:  # math-verify swallows most errors; this is the last line of defence
        logger.debug("math_equal failed on %r: %r", pred[:200], e)
        return False


@REWARDS.register("math")
def math_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * accuracy + 0.1 * format``; accuracy is ``math_equal(answer, sample.answer)``.

    >>> s = Sample(id="x", prompt="What is 1/2 + 1/4?", answer="\\\\frac{3}{4}")
    >>> math_reward(["<answer>0.75</answer>", "<answer>\\\\boxed{3/4}</answer>",
    ...              "<answer>1/2, 3/4</answer>", "3/4"], [s] * 4)["accuracy"]
    [1.0, 1.0, 0.0, 0.0]
    """
    return score_answers(completions, samples, lambda a, s: float(math_equal(a, s.answer)))


def _equal_star(args: tuple[str | None, str, int]) -> bool:
    pred, gold, timeout_s = args
    return math_equal(pred, gold, timeout_s=timeout_s)


class MathVerifyPool:
    """math-verify in worker processes, so a slow verifier cannot stall or hang the step.

    Each worker runs math-verify on its main thread with its ``signal.alarm`` timeouts; on top,
    ``equal_many`` waits at most ``batch_timeout_s`` for the whole batch and, past that, kills
    the pool (a fresh one starts on the next call) and scores the batch 0.

    Example (skipped as a doctest: starting a worker takes about a second):

    >>> with MathVerifyPool(workers=1) as pool:  # doctest: +SKIP
    ...     pool.equal_many(["0.5", "2"], ["\\\\frac{1}{2}", "3"])
    [True, False]
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        timeout_s: int = DEFAULT_TIMEOUT_S,
        batch_timeout_s: float = 60.0,
    ) -> None:
        self.workers, self.timeout_s, self.batch_timeout_s = workers, timeout_s, batch_timeout_s
        self._pool: Any = None

    _job = staticmethod(_equal_star)  # what a worker runs per item; tests swap in a slow one

    def _get_pool(self) -> Any:
        if self._pool is None:
            # spawn, not fork: forking a process that holds torch/CUDA threads is unsafe.
            self._pool = multiprocessing.get_context("spawn").Pool(self.workers)
        return self._pool

    def equal_many(self, preds: list[str | None], golds: list[str]) -> list[bool]:
        jobs = [(p, g, self.timeout_s) for p, g in zip(preds, golds, strict=True)]
        result = self._get_pool().map_async(self._job, jobs)
        try:
            return list(result.get(timeout=self.batch_timeout_s))
        except multiprocessing.TimeoutError:
            logger.warning("math-verify batch exceeded %.0f s; scoring it 0", self.batch_timeout_s)
            self.close()
            return [False] * len(jobs)

    def reward(self, completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        """The "math" reward, verified in the pool (same scores as ``math_reward``)."""
        from mmrft.rewards.base import extract_answer

        verdicts = iter(
            self.equal_many([extract_answer(c) for c in completions], [s.answer for s in samples])
        )
        return score_answers(completions, samples, lambda a, s: float(next(verdicts)))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> MathVerifyPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
