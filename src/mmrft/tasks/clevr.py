"""CLEVR-style compositional questions over a scene of shapes ("clevr").

Design note: a scene is 3-10 flat shapes (``scene.render_shapes``), each with a colour, a kind
(circle / square / triangle) and a size class ("small" or "large", sides at least 1.5x apart so
the class is visible). A question is a small functional program over the object list, as in
CLEVR (Johnson et al., 2017), stored in ``meta["program"]`` and rendered to English by fixed
templates:

* a *set* ``{"np": filter, "rel": relation | None, "ref": set | None}`` selects the objects
  matching ``filter`` (some of size / colour / kind) that stand in ``relation`` to the one
  object ``ref`` names ("red objects left of the blue square");
* a *reference* is a set that must select exactly one object ("the blue square", or at level 5
  "the red object that is above the small square");
* ``count`` / ``exist`` of a set, ``compare`` two sets' sizes (more / fewer / as many), and
  ``same``: how many objects (other than the reference) share its colour, kind or size.

Relations use box edges with a ``MARGIN`` px dead zone: "A left of B" iff ``A.x1 + MARGIN <=
B.x0`` (wholly left of B's left edge, at any height), and A is clearly *not* left of B iff
``A.x0 >= B.x0``. An object matching the filter that falls in between (straddling B's left
edge) makes the question ambiguous and it is never asked; the prompt states the rule. Likewise
right of / above / below.

Answers are integers ("3") or "yes" / "no", so the task is scored by the "exact_match" reward
(normalised string equality: "Yes." passes, "yes, 3" and "three" do not). To keep the answer
distribution from collapsing onto 0 or "no", each sample draws ``CANDIDATES`` random programs
of its level's templates, keeps the well-defined ones, picks an answer value uniformly among
those that occur, then a program with that value.

Levels:

    level  shapes  colours  questions                                             background
    1      3-5     3        count by one attribute ("How many red objects ...")   plain
    2      4-6     3        count by 1-2 attributes, count left of / above ...    plain
    3      5-7     4        relational count, exist, compare two counts           plain
    4      6-8     5        same colour/shape/size as, exist, compare, count      plain
    5      7-10    6        two-hop references, same-as with a filter, compare    3% speckle
                            a relational set with a count
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

from mmrft.data.sample import Sample
from mmrft.tasks.base import TASKS, Task
from mmrft.tasks.counting import SHAPES
from mmrft.tasks.scene import PALETTE, place_boxes, render_shapes, shape_meta

MARGIN = 3  # px an object must clear a reference's edge by to count as "left of" it, etc.
SIZE_RATIO = 1.5  # a large shape's side is at least this many times a small one's
CANDIDATES = 48  # random programs drawn per scene before balancing answers
SCENE_RESTARTS = 100
RELATIONS = ("left of", "right of", "above", "below")
ATTRS = ("size", "colour", "kind")  # filter keys, in the order they are spoken
ATTR_WORDS = {"size": "size", "colour": "colour", "kind": "shape"}
SIZES = ("small", "large")
PLURALS = {"circle": "circles", "square": "squares", "triangle": "triangles"}
RELATION_NOTE = (
    'Here "left of X" means wholly to the left of X\'s left edge, at any height; '
    'likewise "right of", "above" and "below".'
)

Filter = dict[str, str]
Program = dict[str, Any]


@dataclass(frozen=True)
class LevelSpec:
    count: tuple[int, int]
    colours: int
    templates: tuple[str, ...]
    np_attrs: tuple[int, int]  # attributes in a counted filter, inclusive range
    noise: float = 0.0


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec((3, 5), 3, ("count",), (1, 1)),
    2: LevelSpec((4, 6), 3, ("count", "count_rel"), (1, 2)),
    3: LevelSpec((5, 7), 4, ("count_rel", "exist", "compare"), (1, 2)),
    4: LevelSpec((6, 8), 5, ("same", "exist", "compare", "count_rel"), (1, 3)),
    5: LevelSpec((7, 10), 6, ("count_rel2", "same_np", "compare_rel", "exist2"), (1, 3), 0.03),
}


# ---------------------------------------------------------------------------- executor
def matches(obj: dict[str, Any], filt: Filter) -> bool:
    """True when ``obj`` has every attribute value in ``filt`` (an empty filter matches all)."""
    return all(obj[key] == value for key, value in filt.items())


def relation_state(box: list[int], ref: list[int], rel: str) -> bool | None:
    """Is ``box`` in relation ``rel`` to ``ref``: True, False, or None when too close to call.

    >>> relation_state([0, 0, 10, 10], [20, 0, 30, 10], "left of")
    True
    >>> relation_state([25, 40, 35, 50], [20, 0, 30, 10], "left of")  # starts right of x0
    False
    >>> relation_state([15, 0, 25, 10], [20, 0, 30, 10], "left of") is None  # straddles x0
    True
    """
    x0, y0, x1, y1 = box
    r0, s0, r1, s1 = ref
    if rel == "left of":
        return True if x1 + MARGIN <= r0 else False if x0 >= r0 else None
    if rel == "right of":
        return True if x0 >= r1 + MARGIN else False if x1 <= r1 else None
    if rel == "above":
        return True if y1 + MARGIN <= s0 else False if y0 >= s0 else None
    if rel == "below":
        return True if y0 >= s1 + MARGIN else False if y1 <= s1 else None
    raise ValueError(f"unknown relation {rel!r}; known: {list(RELATIONS)}")


def select(objects: list[dict[str, Any]], s: Program) -> list[int] | None:
    """Indices of the objects set ``s`` picks, or None if it is ill-defined (see module note)."""
    picked = [i for i, o in enumerate(objects) if matches(o, s["np"])]
    if s["rel"] is None:
        return picked
    ref = resolve(objects, s["ref"])
    if ref is None:
        return None
    out = []
    for i in picked:
        if i == ref:
            continue
        state = relation_state(objects[i]["bbox"], objects[ref]["bbox"], s["rel"])
        if state is None:
            return None
        if state:
            out.append(i)
    return out


def resolve(objects: list[dict[str, Any]], ref: Program) -> int | None:
    """The one object a reference names, or None if it names none or several."""
    picked = select(objects, ref)
    return picked[0] if picked is not None and len(picked) == 1 else None


def evaluate(objects: list[dict[str, Any]], program: Program) -> int | str | None:
    """The answer of ``program`` on ``objects`` (an int or "yes"/"no"); None if ill-defined."""
    op = program["op"]
    if op in ("count", "exist"):
        picked = select(objects, program["set"])
        if picked is None:
            return None
        return len(picked) if op == "count" else ("yes" if picked else "no")
    if op == "compare":
        a, b = select(objects, program["a"]), select(objects, program["b"])
        if a is None or b is None:
            return None
        holds = {"more": len(a) > len(b), "fewer": len(a) < len(b), "same": len(a) == len(b)}
        return "yes" if holds[program["cmp"]] else "no"
    if op == "same":
        ref = resolve(objects, program["ref"])
        if ref is None:
            return None
        attr, value = program["attr"], objects[ref][program["attr"]]
        return sum(
            i != ref and o[attr] == value and matches(o, program["np"])
            for i, o in enumerate(objects)
        )
    raise ValueError(f"unknown program op {op!r}")


# ---------------------------------------------------------------------------- English
def noun_phrase(filt: Filter, plural: bool) -> str:
    """``{"size": "large", "kind": "circle"}`` -> "large circles" (or "large circle").

    >>> noun_phrase({"colour": "red"}, True), noun_phrase({"size": "small", "kind": "square"}, False)
    ('red objects', 'small square')
    """
    kind = filt.get("kind")
    noun = (PLURALS[kind] if plural else kind) if kind else ("objects" if plural else "object")
    return " ".join([*(filt[k] for k in ("size", "colour") if k in filt), noun])


def set_text(s: Program) -> str:
    """ "red objects" or "red objects left of the blue square"."""
    text = noun_phrase(s["np"], plural=True)
    return text if s["rel"] is None else f"{text} {s['rel']} {ref_text(s['ref'])}"


def ref_text(ref: Program) -> str:
    """ "the blue square" or "the red object that is above the small square"."""
    text = f"the {noun_phrase(ref['np'], plural=False)}"
    return text if ref["rel"] is None else f"{text} that is {ref['rel']} {ref_text(ref['ref'])}"


def question_text(program: Program) -> str:
    op = program["op"]
    if op == "count":
        s = program["set"]
        if s["rel"] is None:
            return f"How many {set_text(s)} are there?"
        return f"How many {noun_phrase(s['np'], True)} are {s['rel']} {ref_text(s['ref'])}?"
    if op == "exist":
        return f"Are there any {set_text(program['set'])}?"
    if op == "compare":
        a, b = set_text(program["a"]), set_text(program["b"])
        if program["cmp"] == "same":
            return f"Are there as many {a} as {b}?"
        return f"Are there {program['cmp']} {a} than {b}?"
    attr, ref = ATTR_WORDS[program["attr"]], ref_text(program["ref"])
    if not program["np"]:
        return f"How many other objects have the same {attr} as {ref}?"
    np_text = noun_phrase(program["np"], True)
    return f"Not counting {ref} itself, how many {np_text} have the same {attr} as it?"


def has_relation(program: Program) -> bool:
    return any(
        isinstance(v, dict) and (v.get("rel") is not None or has_relation(v))
        for v in program.values()
    )


# ---------------------------------------------------------------------------- random programs
def _subsets() -> list[tuple[str, ...]]:
    return [c for n in range(1, len(ATTRS) + 1) for c in itertools.combinations(ATTRS, n)]


ATTR_SUBSETS = _subsets()  # shortest first, so references use the fewest words


class _Builder:
    """Draws random programs for one scene; each draw may be ill-defined (checked later)."""

    def __init__(self, rng: random.Random, objects: list[dict[str, Any]], colours: list[str]):
        self.rng, self.objects = rng, objects
        self.values = {"size": list(SIZES), "colour": colours, "kind": list(SHAPES)}

    def filter(self, n_attrs: int, exclude: str | None = None) -> Filter:
        """Attributes of a random object (so counts are often > 0), sometimes one swapped."""
        obj = self.rng.choice(self.objects)
        keys = [k for k in ATTRS if k != exclude]
        chosen = sorted(self.rng.sample(keys, min(n_attrs, len(keys))), key=ATTRS.index)
        filt = {k: obj[k] for k in chosen}
        if self.rng.random() < 0.25:
            key = self.rng.choice(chosen)
            filt[key] = self.rng.choice(self.values[key])
        return filt

    def reference(self, hops: int = 0) -> Program | None:
        """A reference to a random object by its shortest unique name (``hops`` relations)."""
        if hops == 0:
            i = self.rng.randrange(len(self.objects))
            for keys in ATTR_SUBSETS:
                ref = {"np": {k: self.objects[i][k] for k in keys}, "rel": None, "ref": None}
                if select(self.objects, ref) == [i]:
                    return ref
            return None
        inner = self.reference(hops - 1)
        if inner is None:
            return None
        rel = self.rng.choice(RELATIONS)
        around = select(self.objects, {"np": {}, "rel": rel, "ref": inner})
        if not around:
            return None
        i = self.rng.choice(around)
        for keys in [(), *ATTR_SUBSETS]:
            ref = {"np": {k: self.objects[i][k] for k in keys}, "rel": rel, "ref": inner}
            if select(self.objects, ref) == [i]:
                return ref
        return None

    def rel_set(self, n_attrs: int, hops: int = 0) -> Program | None:
        ref = self.reference(hops)
        if ref is None:
            return None
        return {"np": self.filter(n_attrs), "rel": self.rng.choice(RELATIONS), "ref": ref}

    def program(self, template: str, np_attrs: tuple[int, int]) -> Program | None:
        n = self.rng.randint(*np_attrs)
        if template == "count":
            return {"op": "count", "set": {"np": self.filter(n), "rel": None, "ref": None}}
        if template in ("count_rel", "count_rel2"):
            s = self.rel_set(min(n, 2), hops=int(template == "count_rel2"))
            return None if s is None else {"op": "count", "set": s}
        if template in ("exist", "exist2"):
            s = self.rel_set(n, hops=int(template == "exist2"))
            return None if s is None else {"op": "exist", "set": s}
        if template in ("compare", "compare_rel"):
            a = (
                self.rel_set(1)
                if template == "compare_rel"
                else {"np": self.filter(1), "rel": None, "ref": None}
            )
            b = {"np": self.filter(self.rng.randint(1, 2)), "rel": None, "ref": None}
            cmp = self.rng.choice(("more", "fewer", "same"))
            return None if a is None or a == b else {"op": "compare", "cmp": cmp, "a": a, "b": b}
        if template in ("same", "same_np"):
            ref, attr = self.reference(), self.rng.choice(ATTRS)
            np = self.filter(1, exclude=attr) if template == "same_np" else {}
            return None if ref is None else {"op": "same", "attr": attr, "np": np, "ref": ref}
        raise ValueError(f"unknown clevr template {template!r}")


@TASKS.register("clevr")
class ClevrTask(Task):
    """Compositional counting / existence / comparison questions; ``answer`` is a number or
    "yes"/"no".

    Args:
        image_size: side of the square image in pixels.
        small / large: inclusive ranges of the two size classes' sides in pixels (defaults
            scale with ``image_size``); ``large[0] >= SIZE_RATIO * small[1]``.

    >>> s = ClevrTask().generate(seed=0, level=3)
    >>> s.answer == str(evaluate(s.meta["objects"], s.meta["program"])).lower()
    True
    """

    name = "clevr"
    description = "Answer compositional count / exist / compare questions about a shape scene."
    reward_name = "exact_match"
    levels = tuple(LEVELS)

    def __init__(
        self,
        image_size: int = 112,
        small: tuple[int, int] | None = None,
        large: tuple[int, int] | None = None,
    ) -> None:
        def px(side_at_112: int) -> int:
            return round(image_size * side_at_112 / 112)

        self.image_size = image_size
        self.small = tuple(small) if small else (px(9), px(12))
        self.large = tuple(large) if large else (px(18), px(22))
        if not (4 <= self.small[0] <= self.small[1] and self.large[0] <= self.large[1]):
            raise ValueError(f"bad size ranges small={self.small}, large={self.large}")
        if self.large[0] < SIZE_RATIO * self.small[1] or self.large[1] > image_size // 4:
            raise ValueError(
                f"need large[0] >= {SIZE_RATIO} * small[1] and large[1] <= image_size // 4, got "
                f"small={self.small}, large={self.large}, image_size={image_size}"
            )

    def generate(self, seed: int, level: int = 1) -> Sample:
        self.check_level(level)
        spec = LEVELS[level]
        rng = random.Random(f"{self.name}/L{level}/{seed}")
        for _ in range(SCENE_RESTARTS):
            scene = self._scene(rng, spec)
            if scene is None:
                continue
            objects, colours = scene
            found = self._question(rng, spec, objects, colours)
            if found is not None:
                program, answer = found
                break
        else:
            raise RuntimeError(f"clevr: no well-defined question after {SCENE_RESTARTS} scenes")
        lines = [question_text(program)]
        if has_relation(program):
            lines.append(RELATION_NOTE)
        lines.append("Answer with a number." if answer.isdigit() else "Answer yes or no.")
        return Sample(
            id=f"{self.name}-L{level}-{seed}",
            prompt="\n".join(lines),
            answer=answer,
            images=[render_shapes(objects, self.image_size, spec.noise, [seed, level])],
            task=self.name,
            meta={
                "level": level,
                "seed": seed,
                "image_size": self.image_size,
                "objects": objects,
                "colours": colours,
                "program": program,
                "question_type": program["op"],
            },
        )

    def _scene(
        self, rng: random.Random, spec: LevelSpec
    ) -> tuple[list[dict[str, Any]], list[str]] | None:
        colours = rng.sample(list(PALETTE), spec.colours)
        n = rng.randint(*spec.count)
        sizes = [rng.choice(SIZES) for _ in range(n)]
        sides = [rng.randint(*(self.small if s == "small" else self.large)) for s in sizes]
        boxes = place_boxes(rng, sides, self.image_size)
        if boxes is None:
            return None
        objects = []
        for size, box in zip(sizes, boxes, strict=True):
            obj = shape_meta(rng.choice(list(SHAPES)), rng.choice(colours), box)
            obj["size"] = size
            objects.append(obj)
        return objects, colours

    def _question(
        self, rng: random.Random, spec: LevelSpec, objects: list[dict[str, Any]], colours: list[str]
    ) -> tuple[Program, str] | None:
        builder = _Builder(rng, objects, colours)
        template = rng.choice(spec.templates)
        by_answer: dict[str, list[Program]] = {}
        for _ in range(CANDIDATES):
            program = builder.program(template, spec.np_attrs)
            if program is None:
                continue
            answer = evaluate(objects, program)
            if answer is not None and program not in by_answer.setdefault(str(answer), []):
                by_answer[str(answer)].append(program)
        if not by_answer:
            return None
        answer = rng.choice(sorted(by_answer))
        return rng.choice(by_answer[answer]), answer
