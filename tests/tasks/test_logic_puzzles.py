"""The MME-Reasoning-style practice puzzles: contract, gold answers, uniqueness and the drawing,
each checked by code independent of the generators (brute force, pixel reads, linear algebra)."""

import itertools
import json
from fractions import Fraction

import numpy as np
import pytest
from family_checks import check_contract, gold_scores
from PIL import Image, ImageDraw

from mmrft.rewards import REWARDS
from mmrft.tasks import TASKS
from mmrft.tasks.logic_puzzles import SKYSCRAPER_LEVELS, SUDOKU_LEVELS
from mmrft.tasks.logic_puzzles_hashi import HASHI_LEVELS
from mmrft.tasks.logic_puzzles_sums import MAGIC_LEVELS, points24_pool
from mmrft.tasks.ocr import load_font

NAMES = ["sudoku", "skyscraper", "hashi", "points24", "magic_sum"]
SEEDS = {"skyscraper": 10}  # level 5 skyscrapers take ~45 ms each; the rest use 20 seeds


@pytest.mark.parametrize("name", NAMES)
def test_contract(name):
    """Levels 1-5, same seed -> byte-identical PNG and row, another seed differs, JSON meta."""
    check_contract(TASKS.get(name)())


@pytest.mark.parametrize("name", NAMES)
def test_gold_answer_scores_one_and_junk_zero(name):
    task = TASKS.get(name)()
    n = SEEDS.get(name, 20)
    samples = [task.generate(seed, level) for level in task.levels for seed in range(n)]
    assert gold_scores(task, samples)["overall"] == [1.0] * len(samples)
    reward = REWARDS.get(task.reward_name)
    junk = ["<answer>[[1]]</answer>", "no answer", "<answer>", "<answer>{}</answer>"]
    for text in junk:
        assert max(reward([text] * len(samples), samples)["accuracy"]) == 0.0
    assert len({s.answer for s in samples[:n]}) > n // 2  # seeds give different puzzles


@pytest.mark.parametrize("name", NAMES)
def test_bad_level_and_size(name):
    with pytest.raises(ValueError, match="levels"):
        TASKS.get(name)().generate(0, 6)
    with pytest.raises(ValueError, match="image_size"):
        TASKS.get(name)(image_size=40)


# ---------------------------------------------------------------------------- sudoku


def all_sudokus(n, box):
    """Every valid n x n sudoku, by brute force over row permutations (288 for 4x4)."""
    br, bc = box
    perms = list(itertools.permutations(range(1, n + 1)))
    out = []

    def ok(rows):
        r = len(rows) - 1
        for c in range(n):
            if len({row[c] for row in rows}) != len(rows):
                return False
        if (r + 1) % br == 0:
            for c0 in range(0, n, bc):
                block = {v for row in rows[-br:] for v in row[c0 : c0 + bc]}
                if len(block) != n:
                    return False
        return True

    def extend(rows):
        if len(rows) == n:
            out.append([list(r) for r in rows])
            return
        for p in perms:
            rows.append(p)
            if ok(rows):
                extend(rows)
            rows.pop()

    extend([])
    return out


def test_there_are_288_four_by_four_sudokus():
    assert len(all_sudokus(4, (2, 2))) == 288  # the known count of 4x4 sudoku grids


@pytest.mark.parametrize("level", [1, 2, 3])
def test_small_sudokus_unique_by_brute_force(level):
    grids = all_sudokus(4, (2, 2))
    task = TASKS.get("sudoku")()
    for seed in range(20):
        s = task.generate(seed, level)
        base = s.meta["special_info"]["base_matrix"]
        fits = [
            g
            for g in grids
            if all(
                v is None or v == g[r][c] for r, row in enumerate(base) for c, v in enumerate(row)
            )
        ]
        assert fits == [json.loads(s.answer)]
        assert sum(v is None for row in base for v in row) == SUDOKU_LEVELS[level].blanks


def digit_read(grey, x, y, cell, templates):
    """The digit whose template best matches the cell with top-left (x, y), or None if blank."""
    inner = grey[y + 3 : y + cell - 2, x + 3 : x + cell - 2]
    if inner.min() > 200:
        return None
    diffs = {d: np.abs(inner - t[3:-2, 3:-2]).sum() for d, t in templates.items()}
    return min(diffs, key=diffs.get)


def templates_for(cell, scale):
    font = load_font("DejaVuSans-Bold.ttf", round(cell * scale))
    out = {}
    for d in range(1, 10):
        image = Image.new("L", (cell, cell), 255)
        ImageDraw.Draw(image).text(
            (cell // 2 + 1, cell // 2 + 1), str(d), fill=0, font=font, anchor="mm"
        )
        out[d] = np.asarray(image, dtype=int)
    return out


@pytest.mark.parametrize("level", [1, 5])
def test_sudoku_digits_read_back_from_pixels(level):
    task = TASKS.get("sudoku")()
    n = SUDOKU_LEVELS[level].n
    cell = (task.image_size - 8) // n
    origin = (task.image_size - cell * n) // 2
    templates = templates_for(cell, 0.62)
    for seed in range(3):
        s = task.generate(seed, level)
        grey = np.asarray(s.images[0].convert("L"), dtype=int)
        read = [
            [
                digit_read(grey, origin + c * cell, origin + r * cell, cell, templates)
                for c in range(n)
            ]
            for r in range(n)
        ]
        assert read == s.meta["special_info"]["base_matrix"]


# ---------------------------------------------------------------------------- skyscraper


def seen(line):
    """Towers visible from the start of ``line`` (counted afresh here, not imported)."""
    count, tallest = 0, 0
    for h in line:
        if h > tallest:
            count, tallest = count + 1, h
    return count


def meets(grid, clues, base):
    cols = [list(c) for c in zip(*grid, strict=True)]
    views = [
        [seen(c) for c in cols],
        [seen(r) for r in grid],
        [seen(r[::-1]) for r in grid],
        [seen(c[::-1]) for c in cols],
    ]
    return all(
        w is None or w == v
        for ws, vs in zip(clues, views, strict=True)
        for w, v in zip(ws, vs, strict=True)
    ) and all(
        b is None or b == g
        for br, gr in zip(base, grid, strict=True)
        for b, g in zip(br, gr, strict=True)
    )


def latin_squares(n):
    perms = list(itertools.permutations(range(1, n + 1)))
    out = [[]]
    for _ in range(n):
        out = [
            rows + [p]
            for rows in out
            for p in perms
            if all(p[c] != row[c] for row in rows for c in range(n))
        ]
    return [[list(r) for r in rows] for rows in out]


def test_there_are_576_latin_squares_of_order_4():
    assert len(latin_squares(3)) == 12 and len(latin_squares(4)) == 576  # known counts


@pytest.mark.parametrize("level", [1, 2, 3])
def test_skyscrapers_unique_by_brute_force(level):
    spec = SKYSCRAPER_LEVELS[level]
    squares = latin_squares(spec.n)
    task = TASKS.get("skyscraper")()
    for seed in range(15):
        s = task.generate(seed, level)
        info = s.meta["special_info"]
        fits = [g for g in squares if meets(g, info["visible_skyscrapers"], info["base_matrix"])]
        assert fits == [json.loads(s.answer)]
        dropped = sum(v is None for side in info["visible_skyscrapers"] for v in side)
        assert dropped <= spec.drop


def test_skyscraper_clues_drawn_where_they_belong():
    """Blue ink in an edge slot iff that slot has a clue; the inner cells hold no blue."""
    task = TASKS.get("skyscraper")()
    for seed in range(4):
        s = task.generate(seed, 5)
        n = s.meta["size"]
        cell = (task.image_size - 4) // (n + 2)
        o = (task.image_size - cell * (n + 2)) // 2 + cell
        rgb = np.asarray(s.images[0], dtype=int)
        blue = (rgb[..., 2] > 120) & (rgb[..., 0] < 80)

        def slot(x, y, blue=blue, cell=cell):
            return blue[y + 2 : y + cell - 2, x + 2 : x + cell - 2].any()

        top, left, right, bottom = s.meta["special_info"]["visible_skyscrapers"]
        for i in range(n):
            p = o + i * cell
            assert slot(p, o - cell) == (top[i] is not None)
            assert slot(p, o + n * cell) == (bottom[i] is not None)
            assert slot(o - cell, p) == (left[i] is not None)
            assert slot(o + n * cell, p) == (right[i] is not None)
        assert not blue[o : o + n * cell, o : o + n * cell].any()


# ---------------------------------------------------------------------------- hashi


def xy(cord):
    return ord(cord[0]) - ord("a"), int(cord[1:]) - 1  # (col, row), 0-based


@pytest.mark.parametrize("level", sorted(HASHI_LEVELS))
def test_hashi_answer_obeys_every_rule(level):
    """Counts, straightness, no crossings, nothing over an island, one connected group."""
    spec = HASHI_LEVELS[level]
    task = TASKS.get("hashi")()
    for seed in range(20):
        s = task.generate(seed, level)
        islands = {i["cord"]: i["requirement"] for i in s.meta["special_info"]["init_islands"]}
        assert spec.islands[0] <= len(islands) <= spec.islands[1]
        bridges = json.loads(s.answer)
        total = dict.fromkeys(islands, 0)
        under, links = [], {k: set() for k in islands}
        for b in bridges:
            (x0, y0), (x1, y1) = xy(b["start"]), xy(b["end"])
            assert (x0 == x1) != (y0 == y1) and b["number"] in (1, 2)
            total[b["start"]] += b["number"]
            total[b["end"]] += b["number"]
            links[b["start"]].add(b["end"])
            links[b["end"]].add(b["start"])
            if x0 == x1:
                under += [(x0, y) for y in range(min(y0, y1) + 1, max(y0, y1))]
            else:
                under += [(x, y0) for x in range(min(x0, x1) + 1, max(x0, x1))]
        assert total == islands
        assert len(under) == len(set(under))  # no cell under two bridges: nothing crosses
        assert not set(under) & {xy(c) for c in islands}
        reached, todo = set(), [next(iter(islands))]
        while todo:
            k = todo.pop()
            if k not in reached:
                reached.add(k)
                todo += links[k]
        assert reached == set(islands)


def test_hashi_islands_drawn_at_their_coordinates():
    """A dark ring around each island's centre; a cell's centre without an island is light."""
    task = TASKS.get("hashi")()
    s = task.generate(3, 4)
    side = s.meta["side"]
    cell = (task.image_size - 4) // (side + 1)
    o = task.image_size - 2 - side * cell
    grey = np.asarray(s.images[0].convert("L"), dtype=int)
    islands = {xy(i["cord"]) for i in s.meta["special_info"]["init_islands"]}
    radius = max(5, cell * 2 // 5)
    for col in range(side):
        for row in range(side):
            x, y = o + col * cell + cell // 2, o + row * cell + cell // 2
            ring = grey[y, x - radius : x - radius + 2].min()  # the circle's left edge
            assert (ring < 100) == ((col, row) in islands), (col, row)


# ---------------------------------------------------------------------------- points24


def makes_24(cards, ops, int_steps=False):
    """Brute force: every order of the cards, every operator triple, all five bracketings."""
    fns = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b if b != 0 else None,
    }

    def ap(op, a, b):
        if a is None or b is None:
            return None
        v = fns[op](a, b)
        return None if v is None or (int_steps and v.denominator != 1) else v

    for a, b, c, d in itertools.permutations([Fraction(x) for x in cards]):
        for o1, o2, o3 in itertools.product(ops, repeat=3):
            trees = [
                ap(o3, ap(o2, ap(o1, a, b), c), d),
                ap(o3, ap(o1, a, b), ap(o2, c, d)),
                ap(o3, ap(o2, a, ap(o1, b, c)), d),
                ap(o3, a, ap(o2, ap(o1, b, c), d)),
                ap(o3, a, ap(o2, b, ap(o1, c, d))),
            ]
            if Fraction(24) in trees:
                return True
    return False


def test_points24_levels_need_what_they_say():
    task = TASKS.get("points24")()
    for level in task.levels:
        for seed in range(4):
            cards = task.generate(seed, level).meta["special_info"]["init_cards"]
            plus_minus, no_div = makes_24(cards, "+-"), makes_24(cards, "+-*")
            int_div, frac = makes_24(cards, "+-*/", True), makes_24(cards, "+-*/")
            assert frac
            assert plus_minus == (level == 1)
            assert no_div == (level <= 3)
            assert int_div == (level <= 4)
            assert max(cards) <= (9 if level == 2 else 13) and len(cards) == 4
            if level == 3:
                assert max(cards) >= 10


def test_points24_fraction_pool_holds_the_classics():
    # 3 3 8 8 -> 8/(3-8/3) and 1 5 5 5 -> 5*(5-1/5) are the textbook "needs a fraction" hands;
    # 1 2 3 4 -> 1*2*3*4 needs no division, 4 4 10 10 -> (10*10-4)/4 needs one.
    assert {(3, 3, 8, 8), (1, 5, 5, 5)} <= set(points24_pool(5))
    assert (1, 2, 3, 4) in points24_pool(2) and (4, 4, 10, 10) in points24_pool(4)


# ---------------------------------------------------------------------------- magic_sum


def test_magic_squares_are_magic_and_unique():
    """Answer + givens is magic; the lines and givens alone fix every cell (rank 9)."""
    task = TASKS.get("magic_sum")()
    for level in task.levels:
        for seed in range(10):
            s = task.generate(seed, level)
            info = s.meta["special_info"]
            cells = {**info["given"], **json.loads(s.answer)}
            grid = [[cells["ABCDEFGHI"[3 * r + c]] for c in range(3)] for r in range(3)]
            sums = [sum(r) for r in grid] + [sum(c) for c in zip(*grid, strict=True)]
            sums += [grid[0][0] + grid[1][1] + grid[2][2], grid[0][2] + grid[1][1] + grid[2][0]]
            assert set(sums) == {info["target"]} and len(set(cells.values())) == 9
            if level <= 2:
                assert sorted(cells.values()) == list(range(1, 10))
            assert len(json.loads(s.answer)) == MAGIC_LEVELS[level].blanks
            rows = [[float(k in line) for k in "ABCDEFGHI"] for line in info["lines"]]
            rows += [[float(k == g) for k in "ABCDEFGHI"] for g in info["given"]]
            assert np.linalg.matrix_rank(np.array(rows)) == 9


def test_rows_survive_a_jsonl_round_trip(tmp_path):
    """Written and read back as a dataset, special_info still lets the reward judge answers."""
    from mmrft.data.jsonl import read_jsonl, write_jsonl

    for name in NAMES:
        task = TASKS.get(name)()
        samples = [task.generate(seed, 3) for seed in range(3)]
        loaded = read_jsonl(write_jsonl(samples, tmp_path / f"{name}.jsonl")).samples
        assert [s.meta for s in loaded] == [s.meta for s in samples]
        assert gold_scores(task, loaded)["overall"] == [1.0] * 3
