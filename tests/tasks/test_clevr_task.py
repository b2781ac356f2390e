"""The clevr task: every answer re-derived by parsing the question's English and evaluating it
on the scene's object list with an interpreter written here (not the generator's program)."""

import doctest
import re
from collections import Counter

import numpy as np
import pytest
from family_checks import check_contract, gold_scores
from scipy import ndimage

import mmrft.tasks.clevr
from mmrft.rewards import REWARDS
from mmrft.tasks import TASKS
from mmrft.tasks.clevr import LEVELS, MARGIN, RELATION_NOTE

SEEDS = range(60)
RELS = "left of|right of|above|below"
KINDS = {"circle": "circle", "circles": "circle", "square": "square", "squares": "square",
         "triangle": "triangle", "triangles": "triangle"}  # fmt: skip
NOUNS = set(KINDS) | {"object", "objects"}
ATTR = {"colour": "colour", "shape": "kind", "size": "size"}


@pytest.fixture(scope="module")
def task():
    return TASKS.get("clevr")()


# ---------------------------------------------------------------------------- the interpreter
class Scene:
    """Answers parsed questions on ``meta["objects"]`` with the prompt's stated relation rule."""

    def __init__(self, objects):
        self.objects = objects
        self.relevant = []  # (object, reference, relation) pairs whose relation mattered

    def np_filter(self, text):
        *adjectives, noun = text.split()
        assert noun in NOUNS, text
        want = {"kind": KINDS.get(noun)}
        for word in adjectives:
            want["size" if word in ("small", "large") else "colour"] = word
        return lambda o: all(v is None or o[k] == v for k, v in want.items())

    def holds(self, o, ref, rel):
        """The prompt's rule: *wholly* beyond the reference's edge ("left of" = left of x0)."""
        self.relevant.append((o, ref, rel))
        (x0, y0, x1, y1), (r0, s0, r1, s1) = o["bbox"], ref["bbox"]
        return {"left of": x1 <= r0, "right of": x0 >= r1, "above": y1 <= s0, "below": y0 >= s1}[
            rel
        ]

    def members(self, text):
        """Objects of a set phrase: "red objects" or "circles left of the blue square"."""
        m = re.fullmatch(rf"(.+?) ({RELS}) (the .+)", text)
        if m is None:
            return [o for o in self.objects if self.np_filter(text)(o)]
        ref = self.the(m.group(3))
        keep = self.np_filter(m.group(1))
        return [o for o in self.objects if o is not ref and keep(o) and self.holds(o, ref, m[2])]

    def the(self, text):
        """The one object "the small red circle [that is above the ...]" names."""
        m = re.fullmatch(rf"the (.+?)(?: that is ({RELS}) (the .+))?", text)
        keep = self.np_filter(m.group(1))
        found = [o for o in self.objects if keep(o)]
        if m.group(2):
            inner = self.the(m.group(3))
            found = [o for o in found if o is not inner and self.holds(o, inner, m.group(2))]
        assert len(found) == 1, (text, found)
        return found[0]

    def answer(self, question):
        yes = {True: "yes", False: "no"}
        if m := re.fullmatch(r"How many (.+) are there\?", question):
            return str(len(self.members(m[1])))
        if m := re.fullmatch(rf"How many (.+?) are ({RELS}) (the .+)\?", question):
            return str(len(self.members(f"{m[1]} {m[2]} {m[3]}")))
        if m := re.fullmatch(r"Are there any (.+)\?", question):
            return yes[bool(self.members(m[1]))]
        if m := re.fullmatch(r"Are there (more|fewer) (.+) than (.+)\?", question):
            a, b = len(self.members(m[2])), len(self.members(m[3]))
            return yes[a > b if m[1] == "more" else a < b]
        if m := re.fullmatch(r"Are there as many (.+) as (.+)\?", question):
            return yes[len(self.members(m[1])) == len(self.members(m[2]))]
        if m := re.fullmatch(r"How many other objects have the same (\w+) as (the .+)\?", question):
            ref, key = self.the(m[2]), ATTR[m[1]]
            return str(sum(o is not ref and o[key] == ref[key] for o in self.objects))
        m = re.fullmatch(
            r"Not counting (the .+) itself, how many (.+) have the same (\w+) as it\?", question
        )
        assert m, question
        ref, key = self.the(m[1]), ATTR[m[3]]
        return str(sum(o is not ref and o[key] == ref[key] for o in self.members(m[2])))


def test_interpreter_on_a_hand_made_scene():
    # Three shapes on a line: red square | blue circle | red circle (x grows to the right).
    objects = [
        {"kind": "square", "colour": "red", "size": "large", "bbox": [0, 0, 20, 20]},
        {"kind": "circle", "colour": "blue", "size": "small", "bbox": [30, 5, 40, 15]},
        {"kind": "circle", "colour": "red", "size": "small", "bbox": [50, 5, 60, 15]},
    ]
    scene = Scene(objects)
    assert scene.answer("How many red objects are left of the blue circle?") == "1"
    assert scene.answer("How many circles are right of the large object?") == "2"
    assert scene.answer("Are there more small objects than squares?") == "yes"
    assert scene.answer("How many other objects have the same colour as the square?") == "1"
    assert (
        scene.answer("How many objects are left of the circle that is right of the blue object?")
        == "2"
    )


# ---------------------------------------------------------------------------- the task
@pytest.mark.parametrize("level", sorted(LEVELS))
def test_answer_from_english_and_objects(task, level):
    answers = Counter()
    for seed in SEEDS:
        sample = task.generate(seed, level)
        objects = sample.meta["objects"]
        lo, hi = LEVELS[level].count
        assert lo <= len(objects) <= hi
        scene = Scene(objects)
        question, *rest = sample.prompt.splitlines()
        assert scene.answer(question) == sample.answer, (seed, sample.prompt)
        # Every relation the answer depended on is clear by MARGIN px or not close at all.
        for o, ref, rel in scene.relevant:
            (x0, y0, x1, y1), (r0, s0, r1, s1) = o["bbox"], ref["bbox"]
            gap = {"left of": (r0 - x1, x0 - r0), "right of": (x0 - r1, r1 - x1),
                   "above": (s0 - y1, y0 - s0), "below": (y0 - s1, s1 - y1)}[rel]  # fmt: skip
            assert gap[0] >= MARGIN or gap[1] >= 0, (seed, question, o, ref, rel)
        assert (RELATION_NOTE in rest) == bool(re.search(RELS, question))
        assert rest[-1] == ("Answer yes or no." if sample.answer in ("yes", "no") else
                            "Answer with a number.")  # fmt: skip
        answers[sample.answer] += 1
    # Not degenerate: several answers, no single one dominating, yes and no both asked.
    assert len(answers) >= 3 and max(answers.values()) <= 0.5 * len(SEEDS), answers
    assert answers["0"] <= 0.4 * len(SEEDS)
    if level >= 3:
        assert answers["yes"] >= 5 and answers["no"] >= 5, answers


EIGHT = np.ones((3, 3), dtype=bool)


@pytest.mark.parametrize("level", [1, 5])
def test_objects_are_what_is_drawn(task, level):
    for seed in range(20):
        sample = task.generate(seed, level)
        pixels = np.asarray(sample.images[0]).astype(int)
        for obj in sample.meta["objects"]:
            labels, _ = ndimage.label((pixels == obj["rgb"]).all(-1), structure=EIGHT)
            x0, y0, x1, y1 = obj["bbox"]
            inside = labels[y0:y1, x0:x1]
            k = np.bincount(inside[inside > 0]).argmax()
            rows, cols = ndimage.find_objects(labels)[k - 1]
            assert abs(cols.start - x0) <= 1 and abs(rows.stop - y1) <= 1
            side = cols.stop - cols.start
            fill = (inside == k).sum() / side**2
            kind = "square" if fill > 0.95 else "circle" if fill > 0.65 else "triangle"
            assert kind == obj["kind"]
            # Size classes: small sides <= 12 px, large >= 18 px at 112 px (1.5x apart).
            assert (side <= 12) == (obj["size"] == "small"), (seed, obj, side)


def test_levels_get_harder(task):
    def depth(node):
        if isinstance(node, dict):
            return (node.get("rel") is not None) + max(map(depth, node.values()), default=0)
        return 0

    stats = []
    for level in task.levels:
        samples = [task.generate(seed, level) for seed in range(30)]
        n_objects = np.mean([len(s.meta["objects"]) for s in samples])
        hops = max(depth(s.meta["program"]) for s in samples)
        stats.append((n_objects, hops, {s.meta["question_type"] for s in samples}))
    assert all(a[0] < b[0] for a, b in zip(stats, stats[1:], strict=False))
    assert [s[1] for s in stats] == [0, 1, 1, 1, 2]  # relations, then two-hop references
    assert stats[0][2] == {"count"} and "compare" in stats[2][2] and "same" in stats[3][2]


def test_contract_and_reward(task):
    check_contract(task)
    samples = [task.generate(seed, level) for level in task.levels for seed in range(6)]
    assert gold_scores(task, samples)["accuracy"] == [1.0] * len(samples)
    reward = REWARDS.get(task.reward_name)
    for s in samples:
        wrong = "no" if s.answer == "yes" else "yes" if s.answer == "no" else str(int(s.answer) + 1)
        hedges = [wrong, f"{s.answer} or {wrong}", f"{s.answer}, {wrong}"]
        scores = reward([f"<answer>{h}</answer>" for h in hedges], [s] * 3)["accuracy"]
        assert scores == [0.0, 0.0, 0.0], (s.answer, hedges)
        loose = s.answer.capitalize() + "."  # "Yes." / "3." still count
        assert reward([f"<answer>{loose}</answer>"], [s])["accuracy"] == [1.0]


def test_bad_arguments():
    with pytest.raises(ValueError, match="large"):
        TASKS.get("clevr")(small=(9, 14), large=(16, 20))
    with pytest.raises(ValueError, match="levels"):
        TASKS.get("clevr")().generate(0, 6)


def test_doctests():
    result = doctest.testmod(mmrft.tasks.clevr)
    assert result.attempted and not result.failed
