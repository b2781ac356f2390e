"""Stop a training loop at a step boundary on SIGTERM / SIGINT, so it can checkpoint first.

Design note: a scheduler's preemption (SIGTERM) or a Ctrl-C (SIGINT) used to kill the run with
nothing saved. Inside ``StopOnSignal`` the first such signal only sets ``requested``; the loop
finishes its current step, writes a checkpoint and raises ``RunInterrupted``, which the CLI
turns into a message and the conventional exit status 128 + signal number (130 / 143), so a
calling script still sees that the run did not finish. The first signal restores the previous
handlers, so a second one stops the process at once, without a checkpoint.

Handlers can only be installed from the main thread; elsewhere the context does nothing.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType, TracebackType

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class RunInterrupted(Exception):
    """Training stopped on a signal after writing ``checkpoint``; rerun the command to resume."""

    def __init__(self, signum: int, checkpoint: Path | None) -> None:
        self.signum = signum
        self.checkpoint = checkpoint
        name = signal.Signals(signum).name
        where = f"checkpoint written to {checkpoint}" if checkpoint else "no checkpoint written"
        super().__init__(f"stopped by {name}: {where}; rerun the same command to resume")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopOnSignal:
    """``with StopOnSignal() as stop:`` ... ``if stop.requested: save, then raise stop.interrupted(path)``."""

    def __init__(self, what: str = "training") -> None:
        self.what = what
        self.signum: int | None = None
        self._previous: dict[int, object] = {}

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def interrupted(self, checkpoint: Path | None) -> RunInterrupted:
        assert self.signum is not None
        return RunInterrupted(self.signum, checkpoint)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signum = signum
        self._restore()  # a second signal acts as it would have without us
        # stderr, not logging: a handler may run while the logging lock is held
        print(
            f"\n{signal.Signals(signum).name}: stopping {self.what} after this step and writing "
            "a checkpoint (send it again to quit at once, without one)",
            file=sys.stderr,
            flush=True,
        )

    def _restore(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._restore()
