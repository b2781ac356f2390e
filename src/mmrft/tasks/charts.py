"""Chart reading: bar, line, pie and scatter charts, plus real GOOG stock prices.

Design note: the generator draws a small data table, renders it with matplotlib's Agg canvas
(no pyplot, no global backend) at a fixed size and dpi under matplotlib's default style, and
asks for a number computed from the table: a value lookup, the max or min, a difference, a
sum (bar and line only), a pie share, a trend (line and stock: in how many steps the value
rises, asked only when every step is clearly up or down), or (scatter) the top y value or how
many points lie above a line. The "stock" chart is real
data: a window of Google's daily closing prices from ``matplotlib.cbook.get_sample_data(
"goog.npz")`` (2004-2008); its answers are computed from those prices.

Answers are exact numbers from the table; the reward is "numeric_relaxed" (5% relative, as
ChartQA). Where values must be read off the axes rather than from printed labels, or labels
are rounded (stock prices are printed as whole dollars), ``meta["abs_tol"]`` widens the
tolerance: 2.5% of the y-axis span for axis charts, 3 percentage points for unlabelled pies,
1 dollar for labelled stock charts. ``meta["chart"]`` holds the table (``labels``,
``values``, or ``points`` for scatter) and ``meta["question"]`` the operation, so a verifier
can recompute the answer.

One figure per task object is reused (``fig.clear()`` between samples); a 224 px chart takes
~30-80 ms on a busy 2-core CPU (axis, tick and text layout dominate), the slowest task by far.
Same seed, level and kwargs give byte-identical pixels.

Levels:

    level  charts                          questions                         printed values
    1      bar (3-4 bars)                  value                             yes
    2      bar, line (4-5)                 value, max, min                   yes
    3      bar, line, pie, stock (4-6)     value, max, min, diff, sum, rises yes
    4      bar, line, pie, scatter, stock  all                               no (read the axes)
    5      as 4 with 6-8 categories        all                               no
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task

BAR_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")
PIE_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
)
NAMES = ("ant", "bee", "cat", "cod", "dog", "eel", "elk", "emu", "fox", "gnu", "owl", "yak")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AXIS_TOL = 0.025  # abs_tol as a fraction of the y-axis span when values must be read off axes
PIE_TOL = 3.0  # percentage points, unlabelled pies
STOCK_LABEL_TOL = 1.0  # dollars: stock labels are printed rounded to whole dollars


@dataclass(frozen=True)
class LevelSpec:
    count: tuple[int, int]
    charts: tuple[str, ...]
    ops: tuple[str, ...]
    labelled: bool


KINDS = ("bar", "line", "pie", "scatter", "stock")
_ALL_OPS = ("value", "max", "min", "diff", "sum", "rises")
TREND_STEP = 0.05  # "rises" is asked only if every step moves >= this share of the value range
LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((3, 4), ("bar",), ("value",), True),
    2: LevelSpec((4, 5), ("bar", "line"), ("value", "max", "min"), True),
    3: LevelSpec((4, 6), ("bar", "line", "pie", "stock"), _ALL_OPS, True),
    4: LevelSpec((5, 7), ("bar", "line", "pie", "scatter", "stock"), _ALL_OPS, False),
    5: LevelSpec((6, 8), ("bar", "line", "pie", "scatter", "stock"), _ALL_OPS, False),
}


@functools.lru_cache(maxsize=1)
def goog_prices() -> np.ndarray:
    """matplotlib's bundled GOOG daily prices (fields date, open, high, low, close, ...)."""
    import matplotlib.cbook as cbook

    return cbook.get_sample_data("goog.npz")["price_data"]


def format_number(value: float) -> str:
    """``"12"`` for whole numbers, else up to two decimals: ``"3.5"``, ``"-0.25"``.

    >>> format_number(12.0), format_number(3.50), format_number(-0.254)
    ('12', '3.5', '-0.25')
    """
    value = round(float(value), 2)
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0")


def answer_for(question: dict[str, Any], chart: dict[str, Any]) -> float:
    """The exact answer of ``question`` (``meta["question"]``) on ``chart`` (``meta["chart"]``)."""
    op = question["op"]
    if op == "count_above":
        return float(sum(y > question["threshold"] for _, y in chart["points"]))
    if op == "max_y":
        return float(max(y for _, y in chart["points"]))
    values = dict(zip(chart["labels"], chart["values"], strict=True))
    if op == "value":
        return values[question["a"]]
    if op == "max":
        return max(values.values())
    if op == "min":
        return min(values.values())
    if op == "diff":
        return round(values[question["a"]] - values[question["b"]], 2)
    if op == "sum":
        return round(sum(values.values()), 2)
    if op == "rises":
        series = chart["values"]
        return float(sum(b > a for a, b in zip(series, series[1:], strict=False)))
    raise ValueError(f"unknown chart question op {op!r}")


@TASKS.register("chart")
class ChartTask(Task):
    """Read a number off a rendered chart; ``answer`` is the number as a string.

    Args:
        image_size: side of the square image in pixels (figure size = image_size / dpi).
        dpi: matplotlib dots per inch; with the default 100, fonts are 6-7 pt.
        kinds: chart kinds to draw (a subset of ``KINDS``) in place of the level's; the level
            still sets the questions, the category count and whether values are printed.

    >>> s = ChartTask().generate(seed=0, level=1)
    >>> s.meta["chart"]["kind"], s.images[0].size, float(s.answer) in s.meta["chart"]["values"]
    ('bar', (224, 224), True)
    """

    name = "chart"
    description = "Read values, extremes, differences and sums off bar/line/pie/scatter charts."
    reward_name = "numeric_relaxed"
    levels = tuple(LEVELS)

    def __init__(
        self, image_size: int = 224, dpi: int = 100, kinds: tuple[str, ...] | None = None
    ) -> None:
        if image_size < 128:
            raise ValueError(f"charts need image_size >= 128 to stay legible, got {image_size}")
        if kinds is not None and (not kinds or not set(kinds) <= set(KINDS)):
            raise ValueError(f"kinds must be a non-empty subset of {list(KINDS)}, got {kinds}")
        self.image_size = image_size
        self.dpi = dpi
        self.kinds = tuple(kinds) if kinds is not None else None
        self._fig = None  # created on first use; not pickled

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fig": None}

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        kind = rng.choice(self.kinds or spec.charts)
        chart = self._data(rng, kind, rng.randint(*spec.count))
        chart["colour"] = rng.choice(BAR_COLOURS)
        text, question = self._question(rng, kind, chart, spec)
        image, span = self._render(chart, spec.labelled)
        meta: dict[str, Any] = {"level": level, "seed": seed, "image_size": self.image_size}
        meta.update(chart=chart, question=question)
        if question["op"] == "rises":
            pass  # a count of steps: exact, whatever the axis
        elif not spec.labelled:
            meta["abs_tol"] = PIE_TOL if kind == "pie" else round(AXIS_TOL * span, 2)
        elif kind == "stock":
            meta["abs_tol"] = STOCK_LABEL_TOL
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=text + " Answer with a number.",
            answer=format_number(answer_for(question, chart)),
            images=[image],
            task=self.name,
            meta=meta,
        )

    # ------------------------------------------------------------------ data and questions
    def _data(self, rng: random.Random, kind: str, n: int) -> dict[str, Any]:
        if kind == "stock":
            prices = goog_prices()
            start = rng.randrange(len(prices) - n)
            rows = prices[start : start + n]
            return {
                "kind": kind,
                "labels": [str(d)[5:] for d in rows["date"]],  # "MM-DD"
                "values": [round(float(v), 2) for v in rows["close"]],
                "rows": [start, start + n],
                "years": "-".join(sorted({str(rows["date"][0])[:4], str(rows["date"][-1])[:4]})),
                "source": "matplotlib.cbook.get_sample_data('goog.npz')",
            }
        if kind == "scatter":
            points = sorted({(rng.randint(0, 20), rng.randint(0, 20)) for _ in range(n + 4)})
            return {"kind": kind, "points": [list(p) for p in points]}
        if kind == "pie":  # integer percentages, each >= 5, summing to 100 (stars and bars)
            spare = 100 - 5 * n
            bars = [-1, *sorted(rng.sample(range(spare + n - 1), n - 1)), spare + n - 1]
            sizes = [5 + b - a - 1 for a, b in zip(bars, bars[1:], strict=False)]
            return {"kind": kind, "labels": rng.sample(NAMES, n), "values": sizes}
        values = [rng.randint(1, 50) for _ in range(n)]
        if kind == "line":
            start = rng.randrange(len(MONTHS) - n + 1)
            labels = list(MONTHS[start : start + n])
        else:
            labels = rng.sample(NAMES, n)
        return {"kind": kind, "labels": labels, "values": values}

    def _question(
        self, rng: random.Random, kind: str, chart: dict[str, Any], spec: LevelSpec
    ) -> tuple[str, dict[str, Any]]:
        if kind == "scatter":
            if rng.random() < 0.5:
                return "What is the largest y value among the points?", {"op": "max_y"}
            ys = {y for _, y in chart["points"]}
            free = [t for t in range(2, 19) if t not in ys]
            t = rng.choice(free) if free else 10.5  # never on a point: no ties
            return f"How many points have a y value greater than {format_number(t)}?", {
                "op": "count_above",
                "threshold": t,
            }
        # A pie always sums to 100 and a sum of share prices means nothing: no "sum" for those;
        # only a series over time (line, stock) has a trend.
        op = rng.choice(
            [
                op
                for op in spec.ops
                if not (kind in ("pie", "stock") and op == "sum")
                and not (kind not in ("line", "stock") and op == "rises")
            ]
        )
        labels, values = chart["labels"], chart["values"]
        if op == "rises":
            steps = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
            if min(steps) >= max(1.0, TREND_STEP * (max(values) - min(values))):
                lead = (
                    "The chart shows Google's daily closing price (USD). "
                    if kind == "stock"
                    else ""
                )
                return (
                    f"{lead}In how many of the {len(values) - 1} steps from one point to the next "
                    "does the value go up?",
                    {"op": op},
                )
            op = "max"  # a near-flat step would make the trend a judgement call
        thing = {
            "bar": "the value",
            "line": "the value",
            "pie": "the percentage",
            "stock": "the closing price in USD",
        }[kind]
        where = {"bar": "of {}", "line": "in {}", "pie": "of {}", "stock": "on {}"}[kind]
        lead = ""
        if kind == "stock":
            lead = f"The chart shows Google's daily closing price (USD) in {chart['years']}. "
        if op == "value":
            a = rng.choice(labels)
            return f"{lead}What is {thing} {where.format(a)}?", {"op": op, "a": a}
        if op in ("max", "min"):
            word = "largest" if op == "max" else "smallest"
            return f"{lead}What is the {word} {thing.removeprefix('the ')} shown?", {"op": op}
        if op == "sum":
            return f"{lead}What is the sum of all the values shown?", {"op": op}
        i, j = rng.sample(range(len(labels)), 2)
        if values[i] == values[j]:
            return f"{lead}What is {thing} {where.format(labels[i])}?", {
                "op": "value",
                "a": labels[i],
            }
        if values[i] < values[j]:
            i, j = j, i
        a, b = labels[i], labels[j]
        return (
            f"{lead}How much greater is {thing} {where.format(a)} than {where.format(b)}?",
            {"op": "diff", "a": a, "b": b},
        )

    # ------------------------------------------------------------------ rendering
    def _figure(self):
        if self._fig is None:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            size = self.image_size / self.dpi
            self._fig = Figure(figsize=(size, size), dpi=self.dpi)
            FigureCanvasAgg(self._fig)
        return self._fig

    def _render(self, chart: dict[str, Any], labelled: bool) -> tuple[Image.Image, float]:
        """The chart as an RGB image, and its y-axis span (for the reading tolerance)."""
        import matplotlib.style

        with matplotlib.style.context("default"), matplotlib.rc_context({"font.size": 6}):
            fig = self._figure()
            fig.clear()
            kind = chart["kind"]
            if kind == "pie":
                ax = fig.add_axes((0.08, 0.08, 0.84, 0.84))
                ax.pie(
                    chart["values"],
                    labels=chart["labels"],
                    autopct=(lambda p: f"{round(p)}%") if labelled else None,
                    startangle=90,
                    counterclock=False,
                    colors=PIE_COLOURS[: len(chart["values"])],
                    textprops={"fontsize": 6},
                    wedgeprops={"linewidth": 0.8, "edgecolor": "white"},
                )
                ax.set_aspect("equal")
            else:
                ax = fig.add_axes((0.17, 0.15, 0.78, 0.78))
                self._draw_axes_chart(ax, chart, labelled)
            fig.canvas.draw()
            span = 0.0 if kind == "pie" else float(np.subtract(*ax.get_ylim()[::-1]))
            pixels = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
        return Image.fromarray(pixels), span

    @staticmethod
    def _draw_axes_chart(ax, chart: dict[str, Any], labelled: bool) -> None:
        kind, colour = chart["kind"], chart["colour"]
        ax.set_axisbelow(True)
        if kind == "scatter":
            xs, ys = zip(*chart["points"], strict=True)
            ax.scatter(xs, ys, s=10, color=colour)
            ax.set_xlim(-1, 21)
            ax.set_ylim(-1, 21)
            ax.set_xticks(range(0, 21, 5))
            ax.set_yticks(range(0, 21, 2))
            ax.grid(linewidth=0.4)
            return
        labels, values = chart["labels"], chart["values"]
        x = list(range(len(values)))
        if kind == "bar":
            bars = ax.bar(x, values, width=0.6, color=colour)
            if labelled:
                ax.bar_label(bars, labels=[format_number(v) for v in values], padding=1)
        else:
            ax.plot(x, values, marker="o", markersize=3, color=colour, linewidth=1.2)
            if labelled:
                for xi, v in zip(x, values, strict=True):
                    text = str(round(v)) if kind == "stock" else format_number(v)
                    ax.annotate(
                        text, (xi, v), xytext=(0, 3), textcoords="offset points", ha="center"
                    )
        ax.set_xticks(x, labels, rotation=45 if kind == "stock" else 0)
        if kind == "stock":
            lo, hi = min(values), max(values)
            pad = max(1.0, 0.15 * (hi - lo))
            ax.set_ylim(lo - pad, hi + pad)
        else:
            ax.set_ylim(0, 55 if not labelled else 58)
            ax.set_yticks(range(0, 51, 5))
        ax.grid(axis="y", linewidth=0.4)
