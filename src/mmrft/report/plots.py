"""Matplotlib figures for the run report, returned as embeddable PNG data URIs.

Uses ``matplotlib.figure.Figure`` directly (rendered by the Agg canvas), never ``pyplot``: no
global figure state, no backend switching, safe to call from a training process or a thread.

Metrics are plotted as small multiples, one panel per numeric key that varies, grouped by
namespace (``reward/mean`` -> ``reward``). Noisy per-step curves get a moving average on top of
the faint raw line, since RL rewards are too noisy to read step by step.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from typing import Any

from matplotlib.figure import Figure

Series = tuple[list[float], list[float]]
"""(x, y) points of one metric, in file order."""

PANEL_W, PANEL_H, MAX_COLS, DPI = 3.3, 2.4, 4, 90
"""Panel size in inches, panels per row, and resolution: small enough to embed many figures."""

SMOOTH_MIN_POINTS = 30
"""Curves with at least this many points get a moving average drawn over them."""


def is_number(value: Any) -> bool:
    """A finite int or float (bools, NaN, inf and strings are not plotted)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def numeric_series(rows: Sequence[dict[str, Any]], x_key: str = "step") -> dict[str, Series]:
    """Every numeric key of ``rows`` as (x, y) points; x is ``rows[i][x_key]`` or ``i``.

    Rows missing a key, or holding a non-number there, simply contribute no point.
    """
    series: dict[str, Series] = {}
    for i, row in enumerate(rows):
        x = row.get(x_key, i)
        x = x if is_number(x) else i
        for key, value in row.items():
            if key != x_key and is_number(value):
                xs, ys = series.setdefault(key, ([], []))
                xs.append(float(x))
                ys.append(float(value))
    return series


def varying(series: dict[str, Series]) -> dict[str, Series]:
    """Only the series whose values change (constants are shown as text, not as flat lines)."""
    return {k: s for k, s in series.items() if len(set(s[1])) > 1}


def namespace(key: str) -> str:
    """``"reward/mean"`` -> ``"reward"``; keys without a slash go to ``"other"``."""
    return key.split("/", 1)[0] if "/" in key else "other"


def group_by_namespace(keys: Iterable[str]) -> dict[str, list[str]]:
    """Keys grouped by namespace, namespaces and keys sorted (``other`` last)."""
    groups: dict[str, list[str]] = {}
    for key in sorted(keys):
        groups.setdefault(namespace(key), []).append(key)
    return dict(sorted(groups.items(), key=lambda kv: (kv[0] == "other", kv[0])))


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over the last ``window`` values (shorter at the start).

    >>> moving_average([1, 2, 3, 4], 2)
    [1.0, 1.5, 2.5, 3.5]
    """
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def small_multiples(series: dict[str, Series], x_label: str = "step") -> Figure:
    """One panel per series, up to ``MAX_COLS`` per row, titled by key."""
    keys = list(series)
    cols = min(MAX_COLS, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig = Figure(figsize=(PANEL_W * cols, PANEL_H * rows), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, key in zip(axes.flat, keys, strict=False):
        xs, ys = series[key]
        if len(ys) >= SMOOTH_MIN_POINTS:
            ax.plot(xs, ys, color="#4c72b0", alpha=0.3, linewidth=0.8)
            ax.plot(xs, moving_average(ys, max(2, len(ys) // 20)), color="#4c72b0", linewidth=1.6)
        else:
            ax.plot(xs, ys, color="#4c72b0", linewidth=1.4, marker="o" if len(ys) < 12 else None)
        _style(ax, key, x_label)
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    return fig


def eval_figure(evals: Sequence[dict[str, Any]]) -> Figure | None:
    """Accuracy curves (every key containing "accuracy") in one panel, other metrics beside it."""
    series = numeric_series(evals)
    acc_keys = sorted(k for k in series if "accuracy" in k)
    other = sorted(k for k in varying(series) if "accuracy" not in k)  # constants are not curves
    panels = ([acc_keys] if acc_keys else []) + [[k] for k in other]
    if not panels:
        return None
    cols = min(MAX_COLS, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(
        figsize=(PANEL_W * 1.3 * cols, PANEL_H * 1.2 * rows), dpi=DPI, layout="constrained"
    )
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, keys in zip(axes.flat, panels, strict=False):
        for key in keys:
            ax.plot(*series[key], marker="o", linewidth=1.6, label=key)
        if keys is acc_keys:
            values = [v for k in keys for v in series[k][1]]
            if min(values) >= 0 and max(values) <= 1:
                ax.set_ylim(-0.02, 1.02)
            ax.legend(fontsize=8, frameon=False)
        _style(ax, "accuracy" if keys is acc_keys else keys[0], "step")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    return fig


def to_data_uri(fig: Figure) -> str:
    """PNG bytes of ``fig`` as a ``data:image/png;base64,...`` URI for an ``<img src>``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _style(ax: Any, title: str, x_label: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(x_label, fontsize=8)
    ax.tick_params(labelsize=8)
    ax.grid(True, alpha=0.3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
