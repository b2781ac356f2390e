"""MME-Reasoning-style arithmetic puzzles drawn as images: magic_sum and points24.

Design note (shared conventions in ``logic_puzzles.py``): seeded generators, PIL at integer
coordinates, ``meta["special_info"]`` in the layout of the validators in
``mmrft.rewards.puzzle_rules`` (``check_magic_sum``, ``check_24_points``).

magic_sum: a 3x3 magic square, every row, column and both diagonals summing to the constant
printed above the grid. Cells are labelled A-I in reading order; blanks show their letter and
the answer is a JSON object giving each blank, ``{"B": 9, "F": 7}``. Every such square is
``c + x*a + y*b`` with the ``(x, y)`` of ``MAGIC_COEFFS`` (constant ``3c``), so it is fixed by
the constant and two cells whose ``(x, y)`` are independent; the givens are drawn until they
are, which makes the solution unique. Levels 1-2 use 1..9 once each (the Lo Shu square and its
rotations and reflections); from level 3 ``c``, ``a``, ``b`` are drawn (nine distinct positive
entries). special_info (``check_magic_sum``'s layout)::

    {"lines": [["A","B","C"], ..., ["C","E","G"]], "target": 15,
     "given": {"A": 2, ...}, "values": [1, ..., 9] (levels 1-2 only)}

The reward adds ``given`` to the answer before checking, since given cells carry no letter.

    level  entries                  blanks
    1      1..9                     3
    2      1..9                     5
    3      c 6-12, |a|,|b| 1-5      4
    4      c 10-30, |a|,|b| 1-9     5
    5      c 10-30, |a|,|b| 1-9     7

points24: four cards; the answer is an expression using each card's number once with
+ - * / and parentheses that equals 24, e.g. ``(8-4)*(7-1)``. special_info
``{"init_cards": [8, 4, 7, 1]}``. The level is what the simplest solution needs; each level
draws from a pool of multisets computed once per process (``points24_pool``):

    level  numbers  needs
    1      1-13     + and - suffice
    2      1-9      * (no solution with + and - alone) but no /
    3      1-13     as level 2, with a card of 10 or more
    4      1-13     / (no solution without it), integer steps suffice
    5      1-13     a fraction along the way, e.g. 8/(3-8/3)
"""

from __future__ import annotations

import functools
import itertools
import json
import random
from dataclasses import dataclass
from fractions import Fraction

from PIL import Image, ImageDraw

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.logic_puzzles import CLUE_INK, INK, PAPER, bold_font, draw_board

# ---------------------------------------------------------------------------- magic_sum

MAGIC_COEFFS = ((0, -1), (1, 1), (-1, 0), (-1, 1), (0, 0), (1, -1), (1, 0), (-1, -1), (0, 1))
"""Cell k (reading order) of a 3x3 magic square is ``c + x*a + y*b`` for ``(x, y) = [k]``."""
LABELS = "ABCDEFGHI"
MAGIC_LINES = [
    [LABELS[i] for i in line]
    for line in ([0, 1, 2], [3, 4, 5], [6, 7, 8], [0, 3, 6], [1, 4, 7], [2, 5, 8], [0, 4, 8])
    + ([2, 4, 6],)
]


@dataclass(frozen=True)
class MagicLevel:
    centre: tuple[int, int] | None  # None: the Lo Shu square (1..9)
    step: int  # |a|, |b| at most this
    blanks: int


MAGIC_LEVELS: dict[int, MagicLevel] = {
    1: MagicLevel(None, 0, 3),
    2: MagicLevel(None, 0, 5),
    3: MagicLevel((6, 12), 5, 4),
    4: MagicLevel((10, 30), 9, 5),
    5: MagicLevel((10, 30), 9, 7),
}


def magic_square(c: int, a: int, b: int) -> list[int]:
    """The nine entries, reading order, of the magic square ``c + x*a + y*b``.

    >>> magic_square(5, 3, 1)  # the Lo Shu square
    [4, 9, 2, 3, 5, 7, 8, 1, 6]
    """
    return [c + x * a + y * b for x, y in MAGIC_COEFFS]


def _random_square(rng: random.Random, spec: MagicLevel) -> list[int]:
    if spec.centre is None:
        a, b = rng.choice([(3, 1), (1, 3)])
        return magic_square(5, a * rng.choice([1, -1]), b * rng.choice([1, -1]))
    while True:
        c = rng.randint(*spec.centre)
        a, b = (rng.choice([1, -1]) * rng.randint(1, spec.step) for _ in range(2))
        cells = magic_square(c, a, b)
        if len(set(cells)) == 9 and min(cells) > 0:
            return cells


def _determined(given: list[int]) -> bool:
    """Do the given cells fix ``a`` and ``b`` (two of their ``(x, y)`` independent)?"""
    return any(
        MAGIC_COEFFS[i][0] * MAGIC_COEFFS[j][1] != MAGIC_COEFFS[i][1] * MAGIC_COEFFS[j][0]
        for i, j in itertools.combinations(given, 2)
    )


def magic_sum_info(cells: list[int], blanks: list[int], lo_shu: bool) -> dict:
    """``check_magic_sum``'s special_info for ``cells`` with ``blanks`` (indices) left empty."""
    info: dict = {
        "lines": MAGIC_LINES,
        "target": sum(cells[:3]),
        "given": {LABELS[k]: cells[k] for k in range(9) if k not in blanks},
    }
    if lo_shu:
        info["values"] = list(range(1, 10))
    return info


@TASKS.register("magic_sum")
class MagicSumTask(Task):
    """Fill the lettered cells of a 3x3 magic square; ``answer`` is a JSON object.

    >>> s = MagicSumTask().generate(seed=0, level=1)
    >>> len(json.loads(s.answer)), s.meta["special_info"]["target"]
    (3, 15)
    """

    name = "magic_sum"
    description = "Fill the blanks of a 3x3 magic square (lines sum to the shown constant)."
    reward_name = "puzzle_magic_sum"
    levels = tuple(MAGIC_LEVELS)

    def __init__(self, image_size: int = 192) -> None:
        if image_size < 96:
            raise ValueError(f"magic_sum needs image_size >= 96, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = MAGIC_LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        cells = _random_square(rng, spec)
        while True:
            blanks = sorted(rng.sample(range(9), spec.blanks))
            if _determined([k for k in range(9) if k not in blanks]):
                break
        info = magic_sum_info(cells, blanks, spec.centre is None)
        n = self.image_size
        cell = (n - 8) // 4  # the grid takes 3 cells, the caption above it about one
        top = n - 4 - 3 * cell
        x0 = (n - 3 * cell) // 2
        image = Image.new("RGB", (n, n), PAPER)
        draw = ImageDraw.Draw(image)
        shown = [
            [None if 3 * r + c in blanks else cells[3 * r + c] for c in range(3)] for r in range(3)
        ]
        draw_board(draw, shown, (x0, top), cell)
        font = bold_font(round(cell * 0.5))
        for k in blanks:
            r, c = divmod(k, 3)
            centre = (x0 + c * cell + cell // 2 + 1, top + r * cell + cell // 2 + 1)
            draw.text(centre, LABELS[k], fill=CLUE_INK, font=font, anchor="mm")
        caption = f"Sum = {info['target']}"
        size = round(cell * 0.6)
        while size > 8 and draw.textlength(caption, font=bold_font(size)) > n - 8:
            size -= 1
        draw.text((n // 2, top // 2), caption, fill=INK, font=bold_font(size), anchor="mm")
        names = ", ".join(LABELS[k] for k in blanks)
        uses = " The square uses each number 1-9 exactly once." if spec.centre is None else ""
        prompt = (
            "In the 3x3 magic square in the image, every row, every column and both diagonals "
            f"add up to the sum shown above it.{uses} Find the numbers in the lettered cells "
            f"({names}). Give them inside <answer></answer> as a JSON object mapping each "
            'letter to its number, like {"' + LABELS[blanks[0]] + '": 1, ...}.'
        )
        answer = {LABELS[k]: cells[k] for k in blanks}
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=json.dumps(answer),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "blanks": [LABELS[k] for k in blanks],
                "special_info": info,
            },
        )


# ---------------------------------------------------------------------------- points24

Number = int | Fraction
OPS = ("+-", "+-*", "int", "all")
"""Operation sets of ``reach``: + and -; adding *; adding / with integer quotients only; all
rationals."""


@functools.cache
def reach(cards: tuple[int, ...], ops: str) -> dict[Number, str]:
    """Every value the sorted ``cards`` make with ``ops``, each with one expression for it.

    Values are ints except with ``ops="all"`` (Fractions): integer arithmetic is several times
    faster, which keeps ``points24_needs`` near half a second.

    >>> reach((2, 3), "+-*")[6], reach((2, 3), "+-")[1], reach((2, 3), "all")[Fraction(2, 3)]
    ('2*3', '3-2', '2/3')
    """
    if len(cards) == 1:
        return {Fraction(cards[0]) if ops == "all" else cards[0]: str(cards[0])}
    out: dict[Number, str] = {}
    for left, right in _splits(cards):
        for x, ex in reach(left, ops).items():
            for y, ey in reach(right, ops).items():
                for value, text in _combine(x, ex, y, ey, ops):
                    out.setdefault(value, text)
    return out


@functools.cache
def _splits(cards: tuple[int, ...]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Each way to cut the sorted multiset in two sorted parts, the left no larger, once."""
    out = []
    for k in range(1, len(cards) // 2 + 1):
        for idx in itertools.combinations(range(len(cards)), k):
            left = tuple(cards[i] for i in idx)
            right = tuple(cards[i] for i in range(len(cards)) if i not in idx)
            if (left, right) not in out and (right, left) not in out:
                out.append((left, right))
    return out


def _quotient(num: Number, den: Number, ops: str) -> Number | None:
    """``num / den`` under ``ops``: any rational for "all", else only an exact integer."""
    if den == 0:
        return None
    if ops == "all":
        return num / den
    return num // den if num % den == 0 else None


def _combine(x: Number, ex: str, y: Number, ey: str, ops: str):
    """``(value, expression)`` of ``x op y`` and ``y op x`` for every op in ``ops``."""
    px, py = (f"({e})" if len(e) > 2 else e for e in (ex, ey))  # cards are at most 2 digits
    yield x + y, f"{ex}+{ey}"
    yield x - y, f"{ex}-{py}"
    yield y - x, f"{ey}-{px}"
    if ops == "+-":
        return
    yield x * y, f"{px}*{py}"
    if ops == "+-*":
        return
    for num, en, den, ed in ((x, px, y, py), (y, py, x, px)):
        q = _quotient(num, den, ops)
        if q is not None:
            yield q, f"{en}/{ed}"


def solve24(cards: tuple[int, ...], ops: str, target: int = 24) -> str | None:
    """One expression making ``target`` from ``cards`` with ``ops``, or None.

    The last operation is searched backwards: for each split, each value ``x`` of the smaller
    part and each operation, the value the larger part would need is looked up in its
    ``reach`` (only parts of up to three cards are ever tabulated).

    >>> solve24((3, 3, 8, 8), "int") is None, solve24((3, 3, 8, 8), "all")
    (True, '8/(3-(8/3))')
    """
    goal: Number = Fraction(target) if ops == "all" else target
    for left, right in _splits(tuple(sorted(cards))):
        right_values = reach(right, ops)
        for x, ex in reach(left, ops).items():
            wanted = [goal - x, x - goal, goal + x]  # y with x+y, x-y or y-x = goal
            if ops != "+-":
                wanted.append(_quotient(goal, x, ops))  # x*y = goal
            if ops in ("int", "all"):
                wanted += [goal * x, _quotient(x, goal, ops)]  # y/x = goal, x/y = goal
            for y in wanted:
                ey = None if y is None else right_values.get(y)
                if ey is None:
                    continue
                for value, text in _combine(x, ex, y, ey, ops):
                    if value == goal:
                        return text
    return None


POINTS24_LEVELS: dict[int, tuple[int, str]] = {
    # level: (highest card, the first of OPS that solves the cards)
    1: (13, "+-"),
    2: (9, "+-*"),
    3: (13, "+-*"),
    4: (13, "int"),
    5: (13, "all"),
}


@functools.cache
def points24_needs() -> dict[tuple[int, ...], str]:
    """Every solvable sorted 4-card multiset of 1-13 -> the first of ``OPS`` that solves it."""
    needs = {}
    for cards in itertools.combinations_with_replacement(range(1, 14), 4):
        ops = next((ops for ops in OPS if solve24(cards, ops) is not None), None)
        if ops is not None:
            needs[cards] = ops
    return needs


@functools.cache
def points24_pool(level: int) -> tuple[tuple[int, ...], ...]:
    """The sorted 4-card multisets of ``level`` (see the module's table)."""
    top, need = POINTS24_LEVELS[level]
    return tuple(
        cards
        for cards, ops in points24_needs().items()
        if ops == need and cards[-1] <= top and (level != 3 or cards[-1] >= 10)
    )


@TASKS.register("points24")
class Points24Task(Task):
    """Make 24 from four cards with + - * / and parentheses; ``answer`` is one expression.

    >>> s = Points24Task().generate(seed=0, level=1)
    >>> s.answer, s.meta["special_info"]
    ('2+4+9+9', {'init_cards': [4, 2, 9, 9]})
    """

    name = "points24"
    description = "Make 24 from the four numbers on the cards with + - * / (the 24 points game)."
    reward_name = "puzzle_points24"
    levels = tuple(POINTS24_LEVELS)

    def __init__(self, image_size: int = 192) -> None:
        if image_size < 96:
            raise ValueError(f"points24 needs image_size >= 96, got {image_size}")
        self.image_size = image_size

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        cards = list(rng.choice(points24_pool(level)))
        rng.shuffle(cards)
        expression = solve24(tuple(cards), POINTS24_LEVELS[level][1])
        n = self.image_size
        gap = max(3, n // 40)
        w = (n - 5 * gap) // 4
        h = min(n - 2 * gap, w * 3 // 2)
        y0 = (n - h) // 2
        image = Image.new("RGB", (n, n), (40, 110, 60))
        draw = ImageDraw.Draw(image)
        font = bold_font(round(w * 0.55))
        for i, card in enumerate(cards):
            x0 = gap + i * (w + gap)
            draw.rounded_rectangle(
                [x0, y0, x0 + w, y0 + h], radius=max(2, w // 8), fill=PAPER, outline=INK, width=2
            )
            draw.text(
                (x0 + w // 2 + 1, y0 + h // 2 + 1), str(card), fill=INK, font=font, anchor="mm"
            )
        prompt = (
            "24 points: using each of the four numbers on the cards exactly once, with + - * / "
            "and parentheses, write an expression that equals 24. Give only the expression "
            "inside <answer></answer>, like <answer>(1+2+3)*4</answer>."
        )
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt=prompt,
            answer=str(expression),
            images=[image],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "special_info": {"init_cards": cards},
            },
        )
