"""Geometry: angles, lengths, areas and perimeters read off labelled figures ("geometry").

Design note: each figure kind is a small builder that draws its parameters from the sample's
``random.Random`` and returns a ``Problem``: the figure in abstract units (y up), the question,
and the exact answer as a sympy expression. Figures are drawn to scale (fitted into the image
with a margin for labels), so a measured length or angle agrees with the labelled one; the given
quantities are written in the image (side lengths at side midpoints, angles inside their vertex
with an arc, the asked angle marked "?"), point letters sit outside each vertex. Angles are whole
degrees. ``answer`` is ``sympy.latex`` of the exact value (``\\frac{25 \\sqrt{3}}{4}``,
``12 \\pi``, ``65``), checked by the "math" reward (math-verify), which also accepts equivalent
forms such as ``25\\sqrt{3}/4`` or ``6.25\\sqrt3``. sympy is imported on first use only (it is
math-verify's dependency and costs ~0.7 s to import).

``meta`` keeps the kind, the integer parameters, the question's quantity, the float value, and
the figure as drawn in pixels (points, lines, circles, labels with their text and position) so a
test can re-derive the answer from the drawing.

Levels (kinds drawn uniformly within a level):

    level  kinds
    1      rectangle area / perimeter; right triangle area from its legs
    2      third angle of a triangle; hypotenuse (surds); circle area / circumference from r
    3      parallel lines cut by a transversal; isosceles base angle; triangle area from base
           and height; circle from its diameter (fractions of pi)
    4      triangle area and third side from two sides and the included angle (sin / cos of
           30-150 degrees); equilateral triangle area / height; sector area / arc length
    5      Heron (three sides); regular polygon interior angle or hexagon area; rectangle with
           a semicircle (area / perimeter); trapezoid area
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from PIL import Image, ImageDraw

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task

XY = tuple[float, float]
INK = (0, 0, 0)
LABEL_INK = (0, 0, 160)  # given quantities in dark blue, point letters in black
ASK_INK = (200, 0, 0)  # the asked angle's or length's "?"
MARGIN = 0.16  # fraction of the image side kept free around the figure for labels


@dataclass
class Figure:
    """A figure in abstract units (y up). Point names starting with "_" are not lettered."""

    points: dict[str, XY]
    polygons: list[list[str]] = field(default_factory=list)  # closed outlines
    segments: list[tuple[str, str]] = field(default_factory=list)
    dashed: list[tuple[str, str]] = field(default_factory=list)
    circles: list[tuple[str, float]] = field(default_factory=list)  # (centre, radius)
    arcs: list[tuple[str, float, float, float]] = field(default_factory=list)  # centre, r, deg
    side_labels: list[tuple[str, str, str]] = field(default_factory=list)  # (a, b, text)
    inner_labels: list[tuple[str, str, str]] = field(default_factory=list)  # towards the centre
    angle_labels: list[tuple[str, str, str, str]] = field(default_factory=list)  # (a, v, b, text)
    right_angles: list[tuple[str, str, str]] = field(default_factory=list)  # (a, vertex, b)
    ticks: list[tuple[str, str]] = field(default_factory=list)  # sides marked equal
    letters: bool = True


@dataclass
class Problem:
    figure: Figure
    question: str
    answer: Any  # sympy expression
    quantity: str  # "area", "perimeter", "length", "angle", ...
    params: dict[str, Any]


Builder = Callable[[random.Random, ModuleType], Problem]


# ---------------------------------------------------------------------------- helpers
def _polar(origin: XY, length: float, degrees: float) -> XY:
    rad = math.radians(degrees)
    return origin[0] + length * math.cos(rad), origin[1] + length * math.sin(rad)


def _triangle_from_sides(a: float, b: float, c: float) -> dict[str, XY]:
    """Vertices of triangle ABC with BC = a, CA = b, AB = c: B at the origin, C on the x axis."""
    x = (a * a + c * c - b * b) / (2 * a)  # A's projection on BC (law of cosines)
    return {"A": (x, math.sqrt(max(c * c - x * x, 0.0))), "B": (0.0, 0.0), "C": (a, 0.0)}


def _deg(sp: ModuleType, degrees: int):
    return sp.pi * degrees / 180


def _triangle(pts: dict[str, XY], **kw: Any) -> Figure:
    return Figure(points=pts, polygons=[["A", "B", "C"]], **kw)


# ---------------------------------------------------------------------------- level 1
def _rectangle(rng: random.Random, sp: ModuleType) -> Problem:
    w, h = rng.sample(range(2, 13), 2)
    pts = {"A": (0.0, 0.0), "B": (w, 0.0), "C": (w, h), "D": (0.0, h)}
    fig = Figure(pts, [["A", "B", "C", "D"]], side_labels=[("A", "B", str(w)), ("B", "C", str(h))])
    params = {"w": w, "h": h}
    if rng.random() < 0.5:
        return Problem(
            fig, "What is the area of rectangle ABCD?", sp.Integer(w * h), "area", params
        )
    q = "What is the perimeter of rectangle ABCD?"
    return Problem(fig, q, sp.Integer(2 * (w + h)), "perimeter", params)


def _right_area(rng: random.Random, sp: ModuleType) -> Problem:
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    pts = {"C": (0.0, 0.0), "B": (a, 0.0), "A": (0.0, b)}
    fig = _triangle(
        pts, side_labels=[("C", "B", str(a)), ("C", "A", str(b))], right_angles=[("B", "C", "A")]
    )
    q = "Triangle ABC has a right angle at C. What is its area?"
    return Problem(fig, q, sp.Rational(a * b, 2), "area", {"a": a, "b": b})


# ---------------------------------------------------------------------------- level 2
def _angle_sum(rng: random.Random, sp: ModuleType) -> Problem:
    while True:
        a, b = rng.randint(30, 110), rng.randint(30, 110)
        if 180 - a - b >= 30:
            break
    c = 180 - a - b
    side_c = 10.0  # AB; AC from the law of sines
    ac = side_c * math.sin(math.radians(b)) / math.sin(math.radians(c))
    pts = {"A": (0.0, 0.0), "B": (side_c, 0.0), "C": _polar((0.0, 0.0), ac, a)}
    fig = _triangle(
        pts, angle_labels=[("B", "A", "C", f"{a}°"), ("A", "B", "C", f"{b}°"), ("A", "C", "B", "?")]
    )
    q = "In triangle ABC, what is the measure of the angle marked with a question mark?"
    return Problem(fig, q, sp.Integer(c), "angle", {"A": a, "B": b})


def _hypotenuse(rng: random.Random, sp: ModuleType) -> Problem:
    a, b = rng.randint(1, 12), rng.randint(2, 12)
    pts = {"C": (0.0, 0.0), "B": (a, 0.0), "A": (0.0, b)}
    fig = _triangle(
        pts,
        side_labels=[("C", "B", str(a)), ("C", "A", str(b)), ("A", "B", "?")],
        right_angles=[("B", "C", "A")],
    )
    q = "Triangle ABC has a right angle at C. What is the length of AB?"
    return Problem(fig, q, sp.sqrt(a * a + b * b), "length", {"a": a, "b": b})


def _circle(rng: random.Random, sp: ModuleType, diameter: bool = False) -> Problem:
    n = rng.randint(2, 16) if diameter else rng.randint(1, 12)
    r = sp.Rational(n, 2) if diameter else sp.Integer(n)
    pts = {"O": (0.0, 0.0), "P": (float(r), 0.0)}
    fig = Figure(pts, circles=[("O", float(r))])
    if diameter:
        pts["Q"] = (-float(r), 0.0)
        fig.segments, fig.side_labels = [("Q", "P")], [("Q", "P", str(n))]
        given, params = "diameter PQ", {"d": n}
    else:
        fig.segments, fig.side_labels = [("O", "P")], [("O", "P", str(n))]
        given, params = "radius OP", {"r": n}
    if rng.random() < 0.5:
        q = f"The circle with centre O has the {given} shown. What is its area?"
        return Problem(fig, q, sp.pi * r**2, "area", params)
    q = f"The circle with centre O has the {given} shown. What is its circumference?"
    return Problem(fig, q, 2 * sp.pi * r, "circumference", params)


# ---------------------------------------------------------------------------- level 3
WEDGES = ("upper right", "upper left", "lower left", "lower right")


def _parallel(rng: random.Random, sp: ModuleType) -> Problem:
    theta = rng.choice([t for t in range(35, 146) if abs(t - 90) >= 10])
    gap, run = 6.0, 9.0
    dx = gap / math.tan(math.radians(theta))
    pts = {"P": (0.0, gap), "Q": (-dx, 0.0)}  # the transversal meets the top line at P
    for name, (x, y) in (("P", pts["P"]), ("Q", pts["Q"])):
        pts[f"_{name}e"], pts[f"_{name}w"] = (x + run / 2, y), (x - run / 2, y)
        pts[f"_{name}u"], pts[f"_{name}d"] = (
            _polar((x, y), 3.0, theta),
            _polar((x, y), 3.0, theta + 180),
        )
    wedge_rays = {
        "upper right": ("e", "u"),
        "upper left": ("u", "w"),
        "lower left": ("w", "d"),
        "lower right": ("d", "e"),
    }
    spots = [(x, w) for x in "PQ" for w in WEDGES]
    given, asked = rng.sample(spots, 2)

    def value(wedge: str) -> int:  # upper right and lower left are theta at both crossings
        return theta if wedge in ("upper right", "lower left") else 180 - theta

    labels = []
    for (x, w), text in ((given, f"{value(given[1])}°"), (asked, "?")):
        r1, r2 = wedge_rays[w]
        labels.append((f"_{x}{r1}", x, f"_{x}{r2}", text))
    segments = [("_Pw", "_Pe"), ("_Qw", "_Qe"), ("_Qd", "_Pu")]
    fig = Figure(pts, segments=segments, angle_labels=labels, letters=False)
    q = (
        "The two horizontal lines are parallel and are crossed by a transversal. "
        "What is the measure of the angle marked with a question mark?"
    )
    params = {"theta": theta, "given": list(given), "asked": list(asked)}
    return Problem(fig, q, sp.Integer(value(asked[1])), "angle", params)


def _isosceles(rng: random.Random, sp: ModuleType) -> Problem:
    apex = rng.randrange(36, 141, 2)  # even, so the base angles are whole degrees
    s = 8.0
    half = s * math.sin(math.radians(apex / 2))
    pts = {"B": (0.0, 0.0), "C": (2 * half, 0.0), "A": (half, s * math.cos(math.radians(apex / 2)))}
    fig = _triangle(
        pts,
        angle_labels=[("B", "A", "C", f"{apex}°"), ("C", "B", "A", "?")],
        ticks=[("A", "B"), ("A", "C")],
    )
    q = "In triangle ABC, AB = AC. What is the measure of the angle marked with a question mark?"
    return Problem(fig, q, sp.Integer((180 - apex) // 2), "angle", {"apex": apex})


def _base_height(rng: random.Random, sp: ModuleType) -> Problem:
    while True:  # not too thin to label
        b, h = rng.randint(3, 14), rng.randint(2, 12)
        if 0.6 * h <= b <= 3 * h:
            break
    # The foot stays off the base's middle, where the base's length label sits.
    foot = round(rng.choice((rng.uniform(0.15, 0.35), rng.uniform(0.65, 0.85))) * b, 2)
    pts = {"B": (0.0, 0.0), "C": (float(b), 0.0), "A": (foot, float(h)), "_D": (foot, 0.0)}
    fig = _triangle(
        pts,
        dashed=[("A", "_D")],
        right_angles=[("C", "_D", "A")],
        side_labels=[("B", "C", str(b))],
        inner_labels=[("_D", "A", str(h))],
    )
    q = "In triangle ABC, the dashed segment is perpendicular to BC. What is the area of ABC?"
    return Problem(fig, q, sp.Rational(b * h, 2), "area", {"b": b, "h": h, "foot": foot})


# ---------------------------------------------------------------------------- level 4
SAS_ANGLES = (30, 45, 60, 120, 135)  # 150 makes a sliver too thin to label


def _sas(rng: random.Random, sp: ModuleType) -> Problem:
    ask_side = rng.random() < 0.5
    angle = rng.choice((60, 120) if ask_side else SAS_ANGLES)  # cos 60/120 keep c^2 whole
    ratio = 2 if angle > 90 else 3  # sides this close, so the triangle is not a sliver
    while True:
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        if max(a, b) <= ratio * min(a, b):
            break
    pts = {"C": (0.0, 0.0), "B": (float(a), 0.0), "A": _polar((0.0, 0.0), b, angle)}
    labels = [("C", "B", str(a)), ("C", "A", str(b))] + ([("A", "B", "?")] if ask_side else [])
    fig = _triangle(pts, side_labels=labels, angle_labels=[("B", "C", "A", f"{angle}°")])
    params = {"a": a, "b": b, "C": angle}
    if ask_side:
        c2 = a * a + b * b - 2 * a * b * sp.cos(_deg(sp, angle))  # law of cosines
        return Problem(fig, "What is the length of AB?", sp.sqrt(c2), "length", params)
    area = sp.Rational(a * b, 2) * sp.sin(_deg(sp, angle))
    return Problem(fig, "What is the area of triangle ABC?", area, "area", params)


def _equilateral(rng: random.Random, sp: ModuleType) -> Problem:
    s = rng.randint(2, 12)
    pts = {"B": (0.0, 0.0), "C": (float(s), 0.0), "A": (s / 2, s * math.sqrt(3) / 2)}
    fig = _triangle(
        pts, side_labels=[("A", "B", str(s))], ticks=[("A", "B"), ("B", "C"), ("C", "A")]
    )
    if rng.random() < 0.5:
        q = "Triangle ABC is equilateral. What is its area?"
        return Problem(fig, q, sp.sqrt(3) * s**2 / 4, "area", {"s": s})
    pts["_D"] = (s / 2, 0.0)
    fig.dashed, fig.right_angles = [("A", "_D")], [("C", "_D", "A")]
    q = (
        "Triangle ABC is equilateral and the dashed segment from A is perpendicular to BC. "
        "What is the length of the dashed segment?"
    )
    return Problem(fig, q, sp.sqrt(3) * s / 2, "length", {"s": s})


def _sector(rng: random.Random, sp: ModuleType) -> Problem:
    r, angle = rng.randint(2, 12), rng.choice((30, 40, 45, 60, 72, 90, 120, 135, 150))
    start = rng.choice((0, 15, 30, 45, 60, 90))
    pts = {
        "O": (0.0, 0.0),
        "A": _polar((0.0, 0.0), r, start),
        "B": _polar((0.0, 0.0), r, start + angle),
    }
    fig = Figure(
        pts,
        segments=[("O", "A"), ("O", "B")],
        arcs=[("O", float(r), start, start + angle)],
        side_labels=[("O", "A", str(r))],
        angle_labels=[("A", "O", "B", f"{angle}°")],
    )
    frac = sp.Rational(angle, 360)
    if rng.random() < 0.5:
        q = "OAB is a sector of a circle with centre O. What is the area of the sector?"
        return Problem(fig, q, frac * sp.pi * r**2, "area", {"r": r, "angle": angle})
    q = "OAB is a sector of a circle with centre O. What is the length of the arc AB?"
    return Problem(fig, q, frac * 2 * sp.pi * r, "arc length", {"r": r, "angle": angle})


# ---------------------------------------------------------------------------- level 5
def _heron(rng: random.Random, sp: ModuleType) -> Problem:
    while True:
        a, b, c = (rng.randint(3, 13) for _ in range(3))
        if a + b > c and b + c > a and c + a > b and _min_angle(a, b, c) >= 25:
            break
    fig = _triangle(
        _triangle_from_sides(a, b, c),
        side_labels=[("B", "C", str(a)), ("C", "A", str(b)), ("A", "B", str(c))],
    )
    s = sp.Rational(a + b + c, 2)
    area = sp.sqrt(s * (s - a) * (s - b) * (s - c))
    return Problem(fig, "What is the area of triangle ABC?", area, "area", {"a": a, "b": b, "c": c})


def _min_angle(a: float, b: float, c: float) -> float:
    def angle(opposite: float, x: float, y: float) -> float:
        return math.degrees(math.acos((x * x + y * y - opposite * opposite) / (2 * x * y)))

    return min(angle(a, b, c), angle(b, c, a), angle(c, a, b))


def _polygon(rng: random.Random, sp: ModuleType) -> Problem:
    n = rng.choice((5, 6, 8, 9, 10, 12))
    s = rng.randint(2, 10)
    radius = s / (2 * math.sin(math.pi / n))
    pts = {f"_{k}": _polar((0.0, 0.0), radius, 270 - 180 / n + 360 * k / n) for k in range(n)}
    fig = Figure(
        pts, [[f"_{k}" for k in range(n)]], side_labels=[("_0", "_1", str(s))], letters=False
    )
    if n == 6 and rng.random() < 0.6:
        q = "The polygon is a regular hexagon. What is its area?"
        return Problem(fig, q, 3 * sp.sqrt(3) * s**2 / 2, "area", {"n": n, "s": s})
    q = "The polygon is regular. What is the measure of each interior angle?"
    return Problem(fig, q, sp.Rational(180 * (n - 2), n), "angle", {"n": n, "s": s})


def _composite(rng: random.Random, sp: ModuleType) -> Problem:
    w, h = rng.randint(2, 12), rng.randint(2, 12)
    pts = {
        "A": (0.0, 0.0),
        "B": (float(w), 0.0),
        "C": (float(w), float(h)),
        "D": (0.0, float(h)),
        "_M": (w / 2, float(h)),
    }
    fig = Figure(
        pts,
        segments=[("D", "A"), ("A", "B"), ("B", "C")],
        dashed=[("C", "D")],
        arcs=[("_M", w / 2, 0.0, 180.0)],
        side_labels=[("A", "B", str(w)), ("B", "C", str(h))],
    )
    r, params = sp.Rational(w, 2), {"w": w, "h": h}
    lead = "The shape is rectangle ABCD with a semicircle on side CD (dashed)."
    if rng.random() < 0.5:
        q = f"{lead} What is the area of the whole shape?"
        return Problem(fig, q, w * h + sp.pi * r**2 / 2, "area", params)
    q = f"{lead} What is the perimeter of the whole shape (the solid outline)?"
    return Problem(fig, q, w + 2 * h + sp.pi * r, "perimeter", params)


def _trapezoid(rng: random.Random, sp: ModuleType) -> Problem:
    a = rng.randint(5, 14)
    b, h = rng.randint(2, a - 2), rng.randint(2, 10)
    left = round(rng.uniform(0.0, a - b), 2)  # D's offset over AB; left = 0 gives a right angle
    pts = {
        "A": (0.0, 0.0),
        "B": (float(a), 0.0),
        "C": (left + b, float(h)),
        "D": (left, float(h)),
        "_E": (left, 0.0),
    }
    fig = Figure(
        pts,
        [["A", "B", "C", "D"]],
        dashed=[("D", "_E")],
        right_angles=[("B", "_E", "D")],
        side_labels=[("A", "B", str(a)), ("D", "C", str(b))],
        inner_labels=[("_E", "D", str(h))],
    )
    q = (
        "ABCD is a trapezoid with AB parallel to DC; the dashed segment is perpendicular to AB. "
        "What is its area?"
    )
    return Problem(
        fig, q, sp.Rational((a + b) * h, 2), "area", {"a": a, "b": b, "h": h, "left": left}
    )


LEVELS: dict[int, dict[str, Builder]] = {
    1: {"rectangle": _rectangle, "right_area": _right_area},
    2: {"angle_sum": _angle_sum, "hypotenuse": _hypotenuse, "circle": _circle},
    3: {
        "parallel": _parallel,
        "isosceles": _isosceles,
        "base_height": _base_height,
        "circle_diameter": lambda rng, sp: _circle(rng, sp, diameter=True),
    },
    4: {"sas": _sas, "equilateral": _equilateral, "sector": _sector},
    5: {"heron": _heron, "polygon": _polygon, "composite": _composite, "trapezoid": _trapezoid},
}


# ---------------------------------------------------------------------------- rendering
class _Canvas:
    """Maps abstract coordinates (y up) into the image with a margin, and draws labels."""

    def __init__(self, fig: Figure, size: int) -> None:
        from mmrft.tasks.ocr import load_font

        xs, ys = [], []
        for x, y in fig.points.values():
            xs.append(x)
            ys.append(y)
        for name, r in [(c, r) for c, r in fig.circles] + [(c, r) for c, r, _, _ in fig.arcs]:
            cx, cy = fig.points[name]
            xs += [cx - r, cx + r]
            ys += [cy - r, cy + r]
        span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-9)
        self.scale = size * (1 - 2 * MARGIN) / span
        self.x0 = (size - (max(xs) - min(xs)) * self.scale) / 2 - min(xs) * self.scale
        self.y0 = (size + (max(ys) - min(ys)) * self.scale) / 2 + min(ys) * self.scale
        self.fig, self.size = fig, size
        self.font = load_font("DejaVuSans.ttf", max(8, round(size * 0.058)))
        self.image = Image.new("RGB", (size, size), (255, 255, 255))
        self.draw = ImageDraw.Draw(self.image)
        self.labels: list[dict[str, Any]] = []

    def px(self, name: str) -> XY:
        x, y = self.fig.points[name]
        return round(self.x0 + x * self.scale, 2), round(self.y0 - y * self.scale, 2)

    def text(self, text: str, at: XY, direction: XY, dist: float, ink: tuple) -> None:
        norm = math.hypot(*direction) or 1.0
        pos = (at[0] + direction[0] / norm * dist, at[1] + direction[1] / norm * dist)
        pos = (round(pos[0], 2), round(pos[1], 2))
        self.draw.text(pos, text, font=self.font, fill=ink, anchor="mm")
        self.labels.append({"text": text, "xy": list(pos)})


def _centroid(canvas: _Canvas, names: list[str]) -> XY:
    pts = [canvas.px(n) for n in names]
    return sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)


def render(fig: Figure, size: int) -> tuple[Image.Image, dict[str, Any]]:
    """The figure as an RGB image, plus its pixel geometry for ``meta["drawing"]``."""
    cv = _Canvas(fig, size)
    d, width = cv.draw, max(1, round(size / 112))
    shown = [n for n in fig.points if not n.startswith("_")] or list(fig.points)
    centre = _centroid(cv, [n for poly in fig.polygons for n in poly] or shown)
    for poly in fig.polygons:
        d.polygon([cv.px(n) for n in poly], outline=INK, width=width)
    for a, b in fig.segments:
        d.line([cv.px(a), cv.px(b)], fill=INK, width=width)
    for a, b in fig.dashed:
        _dashed(d, cv.px(a), cv.px(b), width)
    for name, r in fig.circles:
        (cx, cy), rp = cv.px(name), r * cv.scale
        d.ellipse([cx - rp, cy - rp, cx + rp, cy + rp], outline=INK, width=width)
    for name, r, start, end in fig.arcs:  # PIL measures clockwise on screen: negate, swap
        (cx, cy), rp = cv.px(name), r * cv.scale
        d.arc([cx - rp, cy - rp, cx + rp, cy + rp], -end, -start, fill=INK, width=width)
    mark = size * 0.045
    for a, v, b in fig.right_angles:
        _right_angle(d, cv.px(a), cv.px(v), cv.px(b), mark, width)
    for a, b in fig.ticks:
        _tick(d, cv.px(a), cv.px(b), mark * 0.6, width)
    for a, v, b, text in fig.angle_labels:
        _angle_label(cv, a, v, b, text, mark)
    sides = [(*s, 1) for s in fig.side_labels] + [(*s, -1) for s in fig.inner_labels]
    for a, b, text, away in sides:
        (xa, ya), (xb, yb) = cv.px(a), cv.px(b)
        mid = ((xa + xb) / 2, (ya + yb) / 2)
        normal = (yb - ya, xa - xb)  # either side of the segment: away from (or towards) centre
        if away * (normal[0] * (mid[0] - centre[0]) + normal[1] * (mid[1] - centre[1])) < 0:
            normal = (-normal[0], -normal[1])
        cv.text(text, mid, normal, size * 0.06, ASK_INK if text == "?" else LABEL_INK)
    if fig.letters:
        for name in shown:
            at = cv.px(name)
            cv.text(name, at, (at[0] - centre[0], at[1] - centre[1] + 1e-6), size * 0.055, INK)
    drawing = {
        "points": {n: list(cv.px(n)) for n in fig.points},
        "scale": round(cv.scale, 4),
        "labels": cv.labels,
    }
    return cv.image, drawing


def _dashed(d: ImageDraw.ImageDraw, a: XY, b: XY, width: int, dash: float = 4.0) -> None:
    length = math.dist(a, b)
    steps = max(1, int(length // (2 * dash)))
    for k in range(steps + 1):
        t0, t1 = min(1.0, 2 * k * dash / length), min(1.0, (2 * k + 1) * dash / length)
        p0 = (a[0] + (b[0] - a[0]) * t0, a[1] + (b[1] - a[1]) * t0)
        p1 = (a[0] + (b[0] - a[0]) * t1, a[1] + (b[1] - a[1]) * t1)
        d.line([p0, p1], fill=INK, width=width)


def _unit(a: XY, b: XY) -> XY:
    n = math.dist(a, b) or 1.0
    return (b[0] - a[0]) / n, (b[1] - a[1]) / n


def _right_angle(d: ImageDraw.ImageDraw, a: XY, v: XY, b: XY, size: float, width: int) -> None:
    ua, ub = _unit(v, a), _unit(v, b)
    p1 = (v[0] + ua[0] * size, v[1] + ua[1] * size)
    p2 = (v[0] + (ua[0] + ub[0]) * size, v[1] + (ua[1] + ub[1]) * size)
    p3 = (v[0] + ub[0] * size, v[1] + ub[1] * size)
    d.line([p1, p2, p3], fill=INK, width=width)


def _tick(d: ImageDraw.ImageDraw, a: XY, b: XY, size: float, width: int) -> None:
    u = _unit(a, b)
    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    n = (-u[1] * size, u[0] * size)
    d.line([(mid[0] - n[0], mid[1] - n[1]), (mid[0] + n[0], mid[1] + n[1])], fill=INK, width=width)


def _angle_label(cv: _Canvas, a: str, v: str, b: str, text: str, mark: float) -> None:
    """An arc inside angle a-v-b and ``text`` on its bisector (angles < 180 degrees)."""
    pv, pa, pb = cv.px(v), cv.px(a), cv.px(b)
    ang_a = math.degrees(math.atan2(pa[1] - pv[1], pa[0] - pv[0]))
    ang_b = math.degrees(math.atan2(pb[1] - pv[1], pb[0] - pv[0]))
    sweep = (ang_b - ang_a) % 360
    start, end = (ang_a, ang_a + sweep) if sweep <= 180 else (ang_b, ang_b + 360 - sweep)
    r = mark * 1.3
    cv.draw.arc([pv[0] - r, pv[1] - r, pv[0] + r, pv[1] + r], start, end, fill=INK, width=1)
    mid = math.radians((start + end) / 2)
    half = math.radians(abs(end - start)) / 2
    # Far enough along the bisector that the text clears both sides of a narrow angle.
    clear = (cv.draw.textlength(text, font=cv.font) / 2 + 3) / math.tan(half)
    dist = max(r + cv.size * 0.045, clear)
    ink = ASK_INK if text == "?" else LABEL_INK
    cv.text(text, pv, (math.cos(mid), math.sin(mid)), dist, ink)


@TASKS.register("geometry")
class GeometryTask(Task):
    """Angles, lengths, areas and perimeters of labelled figures; ``answer`` is exact LaTeX.

    Args:
        image_size: side of the square image in pixels (labels need about 160 px or more).

    >>> s = GeometryTask().generate(seed=1, level=1)
    >>> s.meta["kind"] in LEVELS[1], s.images[0].size
    (True, (224, 224))
    """

    name = "geometry"
    description = "Find an angle, length, area or perimeter of a labelled figure (exact answer)."
    reward_name = "math"
    levels = tuple(LEVELS)

    def __init__(self, image_size: int = 224) -> None:
        if image_size < 96:
            raise ValueError(
                f"geometry needs image_size >= 96 for legible labels, got {image_size}"
            )
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        import sympy as sp

        self.check_level(level)
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        kind = rng.choice(sorted(LEVELS[level]))
        problem = LEVELS[level][kind](rng, sp)
        image, drawing = render(problem.figure, self.image_size)
        hint = "Give the exact value (use \\pi and square roots where needed)."
        if problem.quantity == "angle":
            hint = "Give the answer in degrees."
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=f"{problem.question}\n{hint}",
            answer=sp.latex(problem.answer),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "kind": kind,
                "quantity": problem.quantity,
                "params": problem.params,
                "value": float(problem.answer),
                "drawing": drawing,
            },
        )
