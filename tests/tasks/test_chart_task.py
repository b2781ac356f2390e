"""The chart task: answers recomputed from the raw table and the GOOG file; bars from pixels."""

import matplotlib.cbook as cbook
import numpy as np
import pytest
from scipy import ndimage

from mmrft.rewards.numeric import parse_number
from mmrft.tasks import TASKS
from mmrft.tasks.charts import LEVELS

SEEDS = range(10)  # a chart takes ~30-50 ms to render: keep the test suite fast
PRICES = cbook.get_sample_data("goog.npz")["price_data"]


@pytest.fixture(scope="module")
def task():
    return TASKS.get("chart")()


def recompute(meta):
    """The answer from ``meta`` alone, written independently of ``charts.answer_for``."""
    chart, q = meta["chart"], meta["question"]
    if chart["kind"] == "stock":  # straight from the file, not from meta's copy
        start, stop = chart["rows"]
        close = PRICES["close"][start:stop]
        assert [str(d)[5:] for d in PRICES["date"][start:stop]] == chart["labels"]
        table = dict(zip(chart["labels"], np.round(close, 2).tolist(), strict=True))
    elif chart["kind"] == "scatter":
        ys = [p[1] for p in chart["points"]]
        return max(ys) if q["op"] == "max_y" else len([y for y in ys if y > q["threshold"]])
    else:
        table = dict(zip(chart["labels"], chart["values"], strict=True))
    ops = {
        "value": lambda: table[q["a"]],
        "max": lambda: sorted(table.values())[-1],
        "min": lambda: sorted(table.values())[0],
        "diff": lambda: table[q["a"]] - table[q["b"]],
        "sum": lambda: sum(table.values()),
        "rises": lambda: sum(  # consecutive labels in chart order, ups counted
            table[b] > table[a] for a, b in zip(chart["labels"], chart["labels"][1:], strict=False)
        ),
    }
    return ops[q["op"]]()


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_answer_recomputed_from_data(task, level):
    kinds, ops = set(), set()
    for seed in SEEDS:
        sample = task.generate(seed, level)
        meta = sample.meta
        assert parse_number(sample.answer) == pytest.approx(recompute(meta), abs=0.006)
        assert sample.images[0].size == (224, 224)
        kinds.add(meta["chart"]["kind"])
        if meta["chart"]["kind"] == "pie":
            assert sum(meta["chart"]["values"]) == 100 and min(meta["chart"]["values"]) >= 5
        if meta["question"]["op"] == "diff":
            assert parse_number(sample.answer) >= 0
        if meta["question"]["op"] == "rises":
            assert "abs_tol" not in meta  # a count is exact
            ops.add("rises")
            continue
        assert ("abs_tol" in meta) == (
            not LEVELS[level].labelled or meta["chart"]["kind"] == "stock"
        )
    assert kinds <= set(LEVELS[level].charts)
    assert len(kinds) >= min(3, len(LEVELS[level].charts))


@pytest.mark.parametrize("level", [3, 5])
def test_stock_charts_use_real_prices(level):
    task = TASKS.get("chart")(kinds=("stock",))
    for seed in range(8):
        s = task.generate(seed, level)
        start, stop = s.meta["chart"]["rows"]
        assert s.meta["chart"]["values"] == [
            round(float(v), 2) for v in PRICES["close"][start:stop]
        ]
        assert parse_number(s.answer) == pytest.approx(recompute(s.meta), abs=0.006)
        assert "Google" in s.prompt and s.meta["question"]["op"] != "sum"


def test_bar_heights_from_pixels(task):
    """Level-1 bars: one solid column per category, heights ordered like the values."""
    for seed in range(8):
        sample = task.generate(seed, 1)
        chart = sample.meta["chart"]
        rgb = [int(chart["colour"][i : i + 2], 16) for i in (1, 3, 5)]
        mask = (np.asarray(sample.images[0]).astype(int) == rgb).all(-1)
        labels, n = ndimage.label(mask)
        assert n == len(chart["values"]), seed
        columns = sorted(ndimage.find_objects(labels), key=lambda sl: sl[1].start)
        heights = [sl[0].stop - sl[0].start for sl in columns]
        values = chart["values"]
        for i in range(n):
            for j in range(n):
                if values[i] > values[j] + 1:  # one value step is ~3 px: order must agree
                    assert heights[i] > heights[j], (seed, values, heights)


def test_kinds_kwarg():
    task = TASKS.get("chart")(kinds=("pie", "scatter"))
    assert {task.generate(seed, 2).meta["chart"]["kind"] for seed in range(6)} == {"pie", "scatter"}
    with pytest.raises(ValueError):
        TASKS.get("chart")(kinds=("radar",))


def test_figure_is_reused_and_pickle_safe(task):
    import pickle

    task.generate(0, 3)
    fig = task._fig
    task.generate(1, 3)
    assert task._fig is fig
    clone = pickle.loads(pickle.dumps(task))
    assert clone._fig is None
    assert clone.generate(2, 3).answer == task.generate(2, 3).answer


def test_trend_questions_count_the_rising_steps():
    line = TASKS.get("chart")(kinds=("line",))
    found = 0
    for seed in range(40):
        s = line.generate(seed, 3)
        if s.meta["question"]["op"] != "rises":
            continue
        found += 1
        values = s.meta["chart"]["values"]
        ups = sum(values[i + 1] > values[i] for i in range(len(values) - 1))
        assert parse_number(s.answer) == ups and "abs_tol" not in s.meta
        span = max(values) - min(values)
        assert all(
            abs(values[i + 1] - values[i]) >= max(1, 0.05 * span) for i in range(len(values) - 1)
        )
    assert found >= 2
