"""Clock and grid puzzles: times read back from the hands' pixels, cells counted from pixels."""

import math

import numpy as np
import pytest

from mmrft.rewards.numeric import exact_match_accuracy
from mmrft.tasks import TASKS
from mmrft.tasks.counting import COLOURS
from mmrft.tasks.puzzles import CLOCK_LEVELS, GRID_LEVELS


def dark_angles(image, radius, steps=720):
    """Clockwise-from-12 angles (degrees) of the centres of dark runs on a circle."""
    grey = np.asarray(image.convert("L")).astype(int)
    c = (grey.shape[0] - 1) / 2
    angles = np.arange(steps) * 360 / steps
    xs = np.round(c + radius * np.sin(np.radians(angles))).astype(int)
    ys = np.round(c - radius * np.cos(np.radians(angles))).astype(int)
    dark = grey[ys, xs] < 100
    if dark.all() or not dark.any():
        return []
    start = int(np.argmin(dark))  # begin on a light sample so runs do not wrap
    runs, current = [], []
    for k in range(steps):
        i = (start + k) % steps
        if dark[i]:
            current.append(start + k)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [(np.mean(r) * 360 / steps) % 360 for r in runs]


def time_from_pixels(sample):
    m = sample.meta
    r = m["radius"]
    (minute_angle,) = dark_angles(sample.images[0], r * (m["hour_len"] + m["minute_len"]) / 2)
    minute = round(minute_angle / 6) % 60
    inner = dark_angles(sample.images[0], r * 0.3)  # both hands cross this circle
    gap = lambda a: min(abs(a - minute_angle), 360 - abs(a - minute_angle))  # noqa: E731
    hour_angle = max(inner, key=gap)  # the run farther from the minute hand (or the one run)
    hour = round((hour_angle - minute / 2) / 30) % 12
    return hour or 12, minute


@pytest.mark.parametrize("level", sorted(CLOCK_LEVELS))
def test_clock_read_from_hands(level):
    task = TASKS.get("clock")()
    step = CLOCK_LEVELS[level].minute_step
    for seed in range(50):
        sample = task.generate(seed, level)
        hour, minute = time_from_pixels(sample)
        assert sample.answer == f"{hour}:{minute:02d}", seed
        assert minute % step == 0
        assert exact_match_accuracy(f"{hour:02d}:{minute:02d}", sample) == 1.0
        assert exact_match_accuracy(f"{hour % 12 + 1}:{minute:02d}", sample) == 0.0


@pytest.mark.parametrize("level", sorted(GRID_LEVELS))
def test_grid_cells_counted_from_pixels(level):
    task = TASKS.get("grid_count")()
    spec = GRID_LEVELS[level]
    for seed in range(50):
        sample = task.generate(seed, level)
        g = sample.meta["geometry"]
        pixels = np.asarray(sample.images[0]).astype(int)
        seen = {}
        for r in range(g["rows"]):
            for c in range(g["cols"]):
                y = g["origin"] + r * g["cell"] + g["cell"] // 2
                x = g["origin"] + c * g["cell"] + g["cell"] // 2
                rgb = pixels[y, x].tolist()
                if rgb != [255, 255, 255]:
                    (name,) = [k for k, v in COLOURS.items() if list(v) == rgb]
                    seen[(r, c)] = name
        assert seen == {(r, c): col for r, c, col in sample.meta["cells"]}
        asked = sample.meta["asked"]
        want = len(seen) if asked is None else sum(v == asked for v in seen.values())
        assert sample.answer == str(want) and want >= 1
        assert len(set(seen.values())) <= spec.colours
        assert spec.filled[0] <= len(seen) <= spec.filled[1]
        assert (asked is None) == (spec.colours == 1)
        if asked:
            assert asked in sample.prompt


def test_clock_hands_follow_the_hour():
    """At h:30 the hour hand sits halfway between h and h+1."""
    from mmrft.tasks.puzzles import hand_angles

    for h in range(1, 13):
        hour_angle, minute_angle = hand_angles(h, 30)
        assert minute_angle == 180
        assert math.isclose(hour_angle, 30 * (h % 12) + 15)
