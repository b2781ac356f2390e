"""The geometry task: each exact answer re-derived by a second formula from the figure's
parameters, and measured off the drawing (pixel coordinates) as a third; labels are drawn."""

import doctest
import json
import math
import subprocess
import sys

import math_verify
import numpy as np
import pytest
import sympy as sp
from family_checks import check_contract, digest, gold_scores

import mmrft.tasks.geometry
from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS
from mmrft.tasks import TASKS
from mmrft.tasks.geometry import LEVELS

SEEDS = range(40)
DEG = sp.pi / 180


@pytest.fixture(scope="module")
def task():
    return TASKS.get("geometry")()


def gold_expr(answer: str):
    parsed = math_verify.parse(f"${answer}$")
    assert parsed, answer
    return parsed[0]


def heron(a, b, c):
    s = (a + b + c) / sp.Integer(2)
    return sp.sqrt(s * (s - a) * (s - b) * (s - c))


def second_route(kind, q, p):
    """The exact answer by a different formula than the generator's (see each comment)."""
    if kind == "rectangle":  # (w + h)^2 = w^2 + h^2 + 2wh
        w, h = p["w"], p["h"]
        return sp.Integer((w + h) ** 2 - w * w - h * h) / 2 if q == "area" else 2 * w + 2 * h
    if kind == "right_area":  # Heron on the legs and the hypotenuse
        return heron(p["a"], p["b"], sp.sqrt(p["a"] ** 2 + p["b"] ** 2))
    if kind == "angle_sum":  # exterior angle at C: 180 - C = A + B
        return 180 - (p["A"] + p["B"])
    if kind == "hypotenuse":  # distance between (a, 0) and (0, b)
        return sp.sqrt((p["a"] - 0) ** 2 + (0 - p["b"]) ** 2)
    if kind in ("circle", "circle_diameter"):
        d = p["d"] if "d" in p else 2 * p["r"]
        return sp.pi * d**2 / 4 if q == "area" else sp.pi * d
    if kind == "parallel":
        return None  # checked from the drawing in test_parallel_angles_from_drawing
    if kind == "isosceles":  # angle sum with two equal base angles
        return sp.solve(sp.Symbol("x") * 2 + p["apex"] - 180)[0]
    if kind == "base_height":  # split at the foot into two right triangles
        foot = sp.Rational(str(p["foot"]))
        return foot * p["h"] / 2 + (p["b"] - foot) * p["h"] / 2
    if kind == "sas":  # coordinates: C = 0, B = (a, 0), A = b (cos C, sin C)
        a, b, c = p["a"], p["b"], p["C"] * DEG
        ax, ay = b * sp.cos(c), b * sp.sin(c)
        return sp.sqrt((ax - a) ** 2 + ay**2) if q == "length" else a * ay / 2
    if kind == "equilateral":  # Heron, or Pythagoras on half the triangle
        s = p["s"]
        return heron(s, s, s) if q == "area" else sp.sqrt(s**2 - sp.Rational(s, 2) ** 2)
    if kind == "sector":  # radians: arc = r * theta, area = r * arc / 2
        arc = p["r"] * p["angle"] * DEG
        return p["r"] * arc / 2 if q == "area" else arc
    if kind == "heron":  # 1/2 ab sin C, cos C from the law of cosines
        a, b, c = p["a"], p["b"], p["c"]
        cos_c = sp.Rational(a * a + b * b - c * c, 2 * a * b)
        return a * b * sp.sqrt(1 - cos_c**2) / 2
    if kind == "polygon":  # exterior angles sum to 360; a hexagon is six equilateral triangles
        if q == "angle":
            return 180 - sp.Rational(360, p["n"])
        return 6 * heron(p["s"], p["s"], p["s"])
    if kind == "composite":
        w, h = p["w"], p["h"]
        return w * h + sp.pi * w**2 / 8 if q == "area" else 2 * h + w + sp.pi * w / 2
    if kind == "trapezoid":  # two right triangles and a rectangle
        a, b, h, left = p["a"], p["b"], p["h"], sp.Rational(str(p["left"]))
        return left * h / 2 + b * h + (a - b - left) * h / 2
    raise AssertionError(f"no second route for {kind}")


def angle_at(points, a, v, b):
    (xa, ya), (xv, yv), (xb, yb) = points[a], points[v], points[b]
    u, w = (xa - xv, ya - yv), (xb - xv, yb - yv)
    cos = (u[0] * w[0] + u[1] * w[1]) / (math.hypot(*u) * math.hypot(*w))
    return math.degrees(math.acos(max(-1.0, min(1.0, cos))))


def shoelace(pts):
    return (
        abs(
            sum(
                x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1], strict=True)
            )
        )
        / 2
    )


def measured(kind, q, p, pts, scale):
    """The answer measured off the drawn figure (pixel points / px-per-unit), or None."""
    dist = lambda a, b: math.dist(pts[a], pts[b]) / scale  # noqa: E731
    if kind in ("rectangle", "trapezoid") and q == "area":
        return shoelace([pts[n] for n in "ABCD"]) / scale**2
    if kind == "rectangle":
        return sum(dist(a, b) for a, b in ("AB", "BC", "CD", "DA"))
    if kind in ("right_area", "base_height", "heron") or (kind, q) in (
        ("sas", "area"),
        ("equilateral", "area"),
    ):
        return shoelace([pts[n] for n in "ABC"]) / scale**2
    if kind in ("hypotenuse", "sas"):
        return dist("A", "B")
    if kind == "angle_sum":
        return angle_at(pts, "A", "C", "B")
    if kind == "isosceles":
        assert abs(dist("A", "B") - dist("A", "C")) < 0.01
        return angle_at(pts, "C", "B", "A")
    if kind == "equilateral":
        return dist("A", "_D")
    if kind == "sector":
        assert abs(angle_at(pts, "A", "O", "B") - p["angle"]) < 0.1
        return None
    if kind == "polygon":
        assert len(pts) == p["n"] and abs(dist("_0", "_1") - p["s"]) < 0.01
        return angle_at(pts, f"_{p['n'] - 1}", "_0", "_1") if q == "angle" else None
    return None


def expected_labels(kind, q, p):
    """The given quantities the figure must show (as label text)."""
    if kind == "parallel":  # upper right and lower left are theta at either crossing
        given = p["theta"] if p["given"][1] in ("upper right", "lower left") else 180 - p["theta"]
        return [f"{given}°", "?"]
    if kind in ("angle_sum", "isosceles"):
        return [f"{p[k]}°" for k in ("A", "B", "apex") if k in p] + ["?"]
    if kind == "sas":
        return [p["a"], p["b"], f"{p['C']}°"] + (["?"] if q == "length" else [])
    if kind == "sector":
        return [p["r"], f"{p['angle']}°"]
    if kind == "hypotenuse":
        return [p["a"], p["b"], "?"]
    if kind == "polygon":
        return [p["s"]]
    # Otherwise every parameter is a labelled length.
    return [v for k, v in p.items() if k not in ("foot", "left")]


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_answer_by_second_route_and_drawing(task, level):
    kinds = set()
    for seed in SEEDS:
        sample = task.generate(seed, level)
        meta, kind = sample.meta, sample.meta["kind"]
        kinds.add(kind)
        gold = gold_expr(sample.answer)
        other = second_route(kind, meta["quantity"], meta["params"])
        if other is not None:
            # Equal to 50 significant digits: exact for these surd / pi expressions, and much
            # faster than sympy.simplify on nested radicals.
            assert abs(sp.N(gold - other, 50)) < 1e-40, (seed, kind, sample.answer, other)
        assert not gold.has(sp.Float), sample.answer  # exact, never a rounded decimal
        assert float(gold) == pytest.approx(meta["value"], rel=1e-9)
        pts, scale = meta["drawing"]["points"], meta["drawing"]["scale"]
        got = measured(kind, meta["quantity"], meta["params"], pts, scale)
        if got is not None:  # drawn to scale: within 0.5% (points are rounded to 0.01 px)
            assert got == pytest.approx(meta["value"], rel=5e-3), (seed, kind, got)
        shown = sorted(lab["text"] for lab in meta["drawing"]["labels"] if lab["text"] not in pts)
        want = sorted(str(v) for v in expected_labels(kind, meta["quantity"], meta["params"]))
        assert shown == want, (seed, kind, shown, want)
    assert kinds == set(LEVELS[level])  # every kind of the level shows up in 40 seeds


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_labels_are_drawn_inside_the_image(task, level):
    for seed in range(12):
        sample = task.generate(seed, level)
        pixels = np.asarray(sample.images[0]).astype(int)
        size = sample.meta["image_size"]
        for label in sample.meta["drawing"]["labels"]:
            x, y = (round(v) for v in label["xy"])
            assert 6 <= x <= size - 6 and 6 <= y <= size - 6, (seed, label)
            patch = pixels[max(0, y - 6) : y + 7, max(0, x - 8) : x + 9]
            r, b = patch[..., 0], patch[..., 2]
            if label["text"] == "?":
                assert ((r - b) > 80).any(), (seed, label)  # red "?"
            elif label["text"][0].isdigit():
                assert ((b - r) > 60).any(), (seed, label)  # dark blue quantity
            else:
                assert (patch.sum(-1) < 200).any(), (seed, label)  # black point letter


def test_parallel_angles_from_drawing(task):
    """Both marked angles measured from the drawn lines: the wedge each label sits in."""
    seen = 0
    for seed in range(80):
        sample = task.generate(seed, 3)
        if sample.meta["kind"] != "parallel":
            continue
        seen += 1
        pts = sample.meta["drawing"]["points"]
        p, q = np.array(pts["P"]), np.array(pts["Q"])
        rays = {  # screen directions (y down) of the two lines and the transversal, both ways
            "line+": np.array([1.0, 0.0]),
            "line-": np.array([-1.0, 0.0]),
            "trans+": (p - q) / np.linalg.norm(p - q),
            "trans-": (q - p) / np.linalg.norm(q - p),
        }
        heading = {k: math.degrees(math.atan2(v[1], v[0])) % 360 for k, v in rays.items()}
        for label in sample.meta["drawing"]["labels"]:
            xy = np.array(label["xy"])
            centre = p if np.linalg.norm(xy - p) < np.linalg.norm(xy - q) else q
            at = math.degrees(math.atan2(*(xy - centre)[::-1])) % 360
            # The wedge containing the label: the nearest ray heading on each side of it.
            before = max(heading.values(), key=lambda h: (h - at) % 360 - 360)
            after = min(heading.values(), key=lambda h: (h - at) % 360)
            wedge = (after - before) % 360
            value = round(wedge)
            if label["text"] == "?":
                assert str(value) == sample.answer, (seed, value, sample.answer)
            else:
                assert label["text"] == f"{value}°", (seed, label, value)
    assert seen >= 10


def test_math_verify_accepts_equivalent_forms():
    # 1/2 * 5 * 5 * sin 60 = 25 sqrt(3) / 4: the generator's LaTeX form for an SAS area.
    gold = sp.latex(sp.Rational(25, 2) * sp.sin(sp.pi / 3))
    assert gold == r"\frac{25 \sqrt{3}}{4}"
    reward = REWARDS.get("math")
    sample = Sample(id="x", prompt="", answer=gold)
    right = [r"25\sqrt{3}/4", r"\frac{25}{4}\sqrt{3}", r"6.25\sqrt{3}", "25*sqrt(3)/4",
             r"\dfrac{25\sqrt3}{4}"]  # fmt: skip
    wrong = [r"\frac{25\sqrt{3}}{2}", "25", "10.83", r"\frac{25 \sqrt{2}}{4}", r"25\sqrt{3}/4, 5"]
    acc = reward([f"<answer>{a}</answer>" for a in right + wrong], [sample] * 10)["accuracy"]
    assert acc == [1.0] * len(right) + [0.0] * len(wrong)


def test_generated_answers_in_other_forms(task):
    reward = REWARDS.get("math")
    samples = [task.generate(seed, level) for level in task.levels for seed in range(5)]
    assert gold_scores(task, samples)["accuracy"] == [1.0] * len(samples)
    for s in samples:
        expr = gold_expr(s.answer)
        # sympy's plain form (25*sqrt(3)/4, 12*\pi; a bare "pi" reads as p*i in LaTeX).
        forms = [str(sp.nsimplify(expr)).replace("pi", "\\pi")]
        if expr.is_rational and not expr.is_integer:
            forms.append(repr(float(expr)))  # 31.5 for 63/2
        wrong = [sp.latex(expr + 1), sp.latex(2 * expr)]
        got = reward([f"<answer>{f}</answer>" for f in forms + wrong], [s] * (len(forms) + 2))
        assert got["accuracy"] == [1.0] * len(forms) + [0.0, 0.0], (s.answer, forms, wrong)


def test_levels_get_harder(task):
    def has_surd_or_pi(answer):
        return "sqrt" in answer or "pi" in answer

    share = []
    for level in task.levels:
        answers = [task.generate(seed, level).answer for seed in range(40)]
        share.append(np.mean([has_surd_or_pi(a) for a in answers]))
    assert share[0] == 0.0 and share[3] > 0.8  # whole numbers first, exact surds / pi later
    assert share[4] > 0.3


def test_contract_and_cross_process(task):
    check_contract(task)
    code = (
        "import json; from mmrft.tasks import TASKS\n"
        "import sys; sys.path.insert(0, 'tests/tasks'); from family_checks import digest\n"
        "print(json.dumps({n: digest(TASKS.get(n)().generate(5, 5))"
        " for n in ['geometry', 'clevr', 'maze', 'detect']}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    theirs = json.loads(out.stdout.strip().splitlines()[-1])
    for name, h in theirs.items():
        assert h == digest(TASKS.get(name)().generate(5, 5)), name


def test_bad_arguments():
    with pytest.raises(ValueError, match="image_size"):
        TASKS.get("geometry")(image_size=64)


def test_doctests():
    result = doctest.testmod(mmrft.tasks.geometry)
    assert result.attempted and not result.failed
