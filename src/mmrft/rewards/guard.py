"""A run's limits on its reward: a wall-clock timeout per call, and an abort on steady failure.

Design note: ``safe_reward`` (base.py) turns what a reward does wrong on one completion (an
exception, a NaN or inf) into a failure for that completion: score 0, counted in
``reward/failures``, a warning naming the reward and the sample. Two faults need more than one
call to see, and live here:

* **A call that does not return** (a verifier stuck on a pathological input, a remote judge that
  hangs, a ``sleep``): ``deadline(seconds)`` raises ``RewardTimeout`` in the calling thread once
  the time is up, and ``safe_reward`` scores that call's completions 0 and counts them. The
  reward keeps running on the calling thread, where math-verify's own ``signal.alarm`` timeouts
  work (they need the main thread, see ``rewards/math.py``); a watchdog thread sends the main
  thread SIGALRM once the time is up, and again every 0.1 s until the call ends, because a
  signal that lands inside math-verify's alarm section is taken by math-verify's handler (which
  gives up on that one parse) rather than ours. ``RewardTimeout`` is a ``BaseException``, so a
  reward's ``except Exception`` cannot swallow it. Limits: code stuck in C that never returns to
  the interpreter is cut only when it does; off the main thread, or where there is no
  ``signal.pthread_kill`` (Windows), no timeout is enforced.
* **A reward that fails on nearly every completion, step after step** (a renamed field, a dead
  judge server): the policy would train on zeros for the rest of the run. ``GuardedReward``
  tallies each step's failures (the trainer calls ``set_step`` once per step, as it does for
  scheduled rewards) and raises ``RewardFailing`` once ``max_failing_steps`` steps in a row
  failed on at least ``FAILING_SHARE`` of their completions.

``GuardedReward`` is itself a plain reward (it calls the one it wraps), so everything that takes
a reward takes it; ``safe_reward`` reads its limits. ``mmrft.trainer.pipeline.make_reward`` wraps
the configured reward with ``rl.reward_timeout_s`` and ``rl.reward_max_failing_steps``.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mmrft.data.sample import Sample

FAILING_SHARE = 0.9
"""A step (or an ``mmrft reward`` file) "fails" when at least this share of its completions
failed: nearly all, so a reward that is right on a few odd inputs still counts as broken."""

_RESEND_S = 0.1  # how often the watchdog repeats the signal until the call ends


class RewardTimeout(BaseException):
    """Raised inside a reward call that ran past its deadline (see the module note)."""


class RewardError(ValueError):
    """A reward broke its contract or failed the run; the message names the reward."""


class RewardFailing(RewardError):
    """The reward failed on nearly every completion for too many steps in a row."""


def reward_name(fn: object) -> str:
    """The name a reward is reported by: its ``__name__``, else its type's name."""
    return getattr(fn, "__name__", None) or type(fn).__name__


@contextmanager
def deadline(seconds: float | None) -> Iterator[None]:
    """Raise ``RewardTimeout`` in this thread if the block runs longer than ``seconds``.

    ``None`` (or a call off the main thread, or no ``pthread_kill``) sets no limit.

    >>> import time
    >>> try:
    ...     with deadline(0.2):
    ...         time.sleep(5)
    ... except RewardTimeout:
    ...     print("cut")
    cut
    """
    if (
        seconds is None
        or threading.current_thread() is not threading.main_thread()
        or not hasattr(signal, "pthread_kill")
    ):
        yield
        return
    state = {"armed": True}

    def on_signal(signum, frame):
        if state["armed"]:  # a signal delivered after the block ended is ignored
            raise RewardTimeout

    done = threading.Event()
    target = threading.get_ident()

    def watchdog() -> None:
        if done.wait(seconds):
            return
        while not done.is_set():
            signal.pthread_kill(target, signal.SIGALRM)
            done.wait(_RESEND_S)

    previous = signal.signal(signal.SIGALRM, on_signal)
    thread = threading.Thread(target=watchdog, name="reward-deadline", daemon=True)
    thread.start()
    try:
        yield
    finally:
        state["armed"] = False
        done.set()
        thread.join()
        signal.signal(signal.SIGALRM, previous)


class GuardedReward:
    """``fn`` with a run's limits on it: ``timeout_s`` per call and an abort after
    ``max_failing_steps`` failing steps in a row (0: never). See the module note."""

    def __init__(
        self,
        fn,
        *,
        timeout_s: float | None = None,
        max_failing_steps: int = 0,
    ) -> None:
        self.fn, self.timeout_s, self.max_failing_steps = fn, timeout_s, max_failing_steps
        self.__name__ = reward_name(fn)
        self.step: int | None = None  # no tally before the first set_step
        self.failed = self.total = 0  # this step's completions: failed / scored
        self.streak = 0  # failing steps in a row before this one
        self.last_reason = ""

    def __call__(self, completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        return self.fn(completions, samples)

    def set_step(self, step: int) -> None:
        """Close the previous step's tally and pass the step on to ``fn`` (schedules)."""
        if hasattr(self.fn, "set_step"):
            self.fn.set_step(step)
        if self.step is not None:
            self.streak = self.streak + 1 if self._failing() else 0
        self.step, self.failed, self.total = step, 0, 0

    def _failing(self) -> bool:
        return self.total > 0 and self.failed >= FAILING_SHARE * self.total

    def record(self, failed: int, total: int, reason: str = "") -> None:
        """Count one call's failures; raise ``RewardFailing`` when the limit is reached."""
        if self.step is None:
            return
        self.failed, self.total = self.failed + failed, self.total + total
        self.last_reason = reason or self.last_reason
        if 0 < self.max_failing_steps <= self.streak + 1 and self._failing():
            raise RewardFailing(
                f"reward {self.__name__!r} failed on {self.failed} of {self.total} "
                f"completions at step {self.step}: {self.streak + 1} steps in a row with "
                f"{FAILING_SHARE:.0%} or more failing (last failure: {self.last_reason}); "
                "stopping rather than training on zeros. Fix the reward (a reward should "
                "return 0 for a wrong answer, not raise), raise rl.reward_timeout_s if it "
                "timed out, or set rl.reward_max_failing_steps=0 to never stop"
            )
