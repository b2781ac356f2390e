"""The page of a stage chain (``run.stages``): every stage's held-out accuracy on one page.

``write_stages_report(root, rows)`` writes ``root/report.html``: a table with one row per stage
(accuracy before and after, greedy too where measured, wall time, a link to the stage's own
report) and a plot of held-out accuracy along the chain: the first stage's "before" (the
starting model), then each stage's "after". A stage that did not measure a metric leaves a gap
rather than a made-up point. Like the run report, the page is one file with the plot inline.
"""

from __future__ import annotations

import datetime
import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from mmrft.report import plots
from mmrft.report.html import PAGE, fmt, fmt_change, img

METRICS = ("accuracy", "greedy_accuracy")


def accuracy_path(rows: Sequence[dict[str, Any]], metric: str) -> list[float | None]:
    """``metric`` along the chain: the first stage's before, then every stage's after.

    >>> accuracy_path([{"accuracy_before": 0.2, "accuracy_after": 0.5}, {"accuracy_after": 0.6}],
    ...               "accuracy")
    [0.2, 0.5, 0.6]
    """
    start = rows[0].get(f"{metric}_before") if rows else None
    return [start] + [r.get(f"{metric}_after") for r in rows]


def chain_figure(rows: Sequence[dict[str, Any]]) -> Figure | None:
    labels = ["start"] + [f"{r['dir']}" for r in rows]
    fig = Figure(figsize=(max(4.0, 1.3 * len(labels)), 3.0), dpi=plots.DPI, layout="constrained")
    ax = fig.subplots()
    drawn = False
    for metric in METRICS:
        ys = accuracy_path(rows, metric)
        points = [(i, y) for i, y in enumerate(ys) if plots.is_number(y)]
        if points:
            ax.plot(*zip(*points, strict=True), marker="o", linewidth=1.6, label=metric)
            drawn = True
    if not drawn:
        return None
    ax.set_xticks(range(len(labels)), labels, rotation=20, fontsize=8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("held-out accuracy")
    ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return fig


def _table(rows: Sequence[dict[str, Any]]) -> str:
    head = "".join(
        f"<th>{h}</th>"
        for h in ("stage", "accuracy before", "after", "change", "greedy before", "after",
                  "change", "wall time", "report")
    )  # fmt: skip
    body = []
    for r in rows:
        cells = [f"<td>{html.escape(r['dir'])}</td>"]
        for metric in METRICS:
            before, after = r.get(f"{metric}_before"), r.get(f"{metric}_after")
            cells += [
                f"<td class='num'>{fmt(before) if before is not None else ''}</td>",
                f"<td class='num strong'>{fmt(after) if after is not None else ''}</td>",
                f"<td class='num'>{fmt_change(before, after)}</td>",
            ]
        wall = r.get("wall_seconds")
        cells.append(
            f"<td class='num'>{fmt(wall, 'wall_seconds') if wall is not None else ''}</td>"
        )
        link = html.escape(f"{r['dir']}/report.html", quote=True)
        cells.append(f"<td><a href='{link}'>{html.escape(r['dir'])}/report.html</a></td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='summary'><tr>{head}</tr>\n" + "\n".join(body) + "</table>"


def build_stages_report(root: Path, rows: Sequence[dict[str, Any]]) -> str:
    fig = chain_figure(rows)
    plot = img(plots.to_data_uri(fig), "held-out accuracy along the chain") if fig else ""
    name = html.escape(root.resolve().name)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = (
        f"<section><h2>Stages</h2>\n{_table(rows)}\n</section>\n"
        f"<section><h2>Held-out accuracy along the chain</h2>\n{plot}\n</section>"
    )
    return PAGE.format(
        title=name,
        header=f"<h1>{name}</h1><p class='sub'>{len(rows)} stages &middot; report generated "
        f"{stamp}</p>",
        body=body,
    )


def write_stages_report(root: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write ``root/report.html`` for a chain's ``rows`` (``stages.json``) and return its path."""
    root = Path(root)
    out = root / "report.html"
    out.write_text(build_stages_report(root, rows), encoding="utf-8")
    return out
