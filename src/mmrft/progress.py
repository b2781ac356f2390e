"""Rich progress bars that stay quiet when output is not a terminal (CI logs)."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(**kwargs) -> Progress:
    """The house progress bar; ``kwargs`` go to ``rich.progress.Progress`` (console, disable)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
        **kwargs,
    )
