"""The detect task: target boxes found again from the pixel mask; the detection reward's F1."""

import doctest
import json

import numpy as np
import pytest
from family_checks import check_contract, gold_scores, reload_png
from scipy import ndimage

import mmrft.tasks.detection
from mmrft.rewards import REWARDS
from mmrft.rewards.grounding import parse_boxes
from mmrft.tasks import TASKS
from mmrft.tasks.detection import LEVELS
from mmrft.tasks.scene import PALETTE

SEEDS = range(60)
EIGHT = np.ones((3, 3), dtype=bool)
SINGULAR = {"circles": "circle", "squares": "square", "triangles": "triangle"}


@pytest.fixture(scope="module")
def task():
    return TASKS.get("detect")()


def query_from_prompt(prompt):
    """``(colour, kind)`` read from "... all the red circles as ..."."""
    words = prompt.split(" all the ", 1)[1].split()
    return words[0], SINGULAR[words[1]]


def boxes_from_pixels(image, colour, kind):
    """Boxes ``[x0, y0, x1, y1)`` of the ``colour`` blobs whose fill ratio says ``kind``."""
    pixels = np.asarray(reload_png(image)).astype(int)
    labels, _ = ndimage.label((pixels == PALETTE[colour]).all(-1), structure=EIGHT)
    found = []
    for k, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        area = (labels[rows, cols] == k).sum()
        fill = area / ((rows.stop - rows.start) * (cols.stop - cols.start))
        guess = "square" if fill > 0.95 else "circle" if fill > 0.65 else "triangle"
        if guess == kind:
            found.append([cols.start, rows.start, cols.stop, rows.stop])
    return sorted(found)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_targets_from_pixel_mask(task, level):
    spec, counts, hard = LEVELS[level], [], 0
    for seed in SEEDS:
        sample = task.generate(seed, level)
        colour, kind = query_from_prompt(sample.prompt)
        assert sample.meta["query"] == {"kind": kind, "colour": colour}
        gold = sorted(list(map(int, b)) for b in parse_boxes(sample.answer))
        assert json.loads(sample.answer) == gold  # a JSON list, sorted
        mine = boxes_from_pixels(sample.images[0], colour, kind)
        assert len(mine) == len(gold), (seed, mine, gold)
        assert all(np.abs(np.array(a) - b).max() <= 1 for a, b in zip(mine, gold, strict=True))
        objects = sample.meta["objects"]
        assert spec.count[0] <= len(objects) <= spec.count[1]
        others = [(o["kind"], o["colour"]) for o in objects if not o["target"]]
        assert (kind, colour) not in others
        if spec.distractors == "easy":
            assert all(k != kind and c != colour for k, c in others)
        if spec.distractors == "hard" and len(others) >= 2:
            hard += any(k == kind for k, _ in others) and any(c == colour for _, c in others)
        counts.append(len(gold))
    assert min(counts) == spec.targets[0] and max(counts) == spec.targets[1]
    if spec.distractors == "hard":
        assert hard >= 0.8 * len(SEEDS)  # same-kind and same-colour distractors are present


def test_reward_f1(task):
    reward = REWARDS.get(task.reward_name)
    sample = next(s for s in (task.generate(i, 3) for i in range(100)) if s.answer.count("[") >= 4)
    gold = json.loads(sample.answer)  # >= 3 targets
    n = len(gold)
    far = [200, 200, 220, 220]  # outside the 112 px image: matches nothing

    def acc(boxes):
        text = boxes if isinstance(boxes, str) else json.dumps(boxes)
        return reward([f"<answer>{text}</answer>"], [sample])["accuracy"][0]

    assert acc(gold) == 1.0
    assert acc(gold[::-1]) == 1.0  # order does not matter
    assert acc([[x0 + 1, y0, x1 + 1, y1] for x0, y0, x1, y1 in gold]) == 1.0  # IoU >= 0.5
    # F1 = 2 TP / (n_pred + n_gold): one box missing -> 2 (n-1) / (2n - 1).
    assert acc(gold[1:]) == pytest.approx(2 * (n - 1) / (2 * n - 1))
    assert acc(gold + [far]) == pytest.approx(2 * n / (2 * n + 1))  # one extra box
    assert acc(gold + gold) == pytest.approx(2 * n / (3 * n))  # duplicates match once
    assert acc([]) == 0.0 and acc("none") == 0.0


def test_no_target_case(task):
    reward = REWARDS.get(task.reward_name)
    empty = next(s for s in (task.generate(i, 2) for i in range(200)) if s.meta["targets"] == [])
    assert empty.answer == "[]" and "Answer [] if there are none." in empty.prompt
    assert boxes_from_pixels(empty.images[0], *query_from_prompt(empty.prompt)) == []
    some_box = json.dumps([empty.meta["objects"][0]["bbox"]])
    scores = reward([f"<answer>{a}</answer>" for a in ("[]", some_box)], [empty, empty])
    assert scores["accuracy"] == [1.0, 0.0]


def test_missing_or_empty_answer_is_not_rewarded_on_no_target_samples(task):
    empty = next(s for s in (task.generate(i, 2) for i in range(200)) if s.meta["targets"] == [])
    completions = ["I cannot tell.", "<answer></answer>", "<answer> [] </answer>"]
    scores = REWARDS.get(task.reward_name)(completions, [empty] * 3)
    assert scores["accuracy"] == [0.0, 0.0, 1.0]  # "no boxes" must be said


def test_box_format_kwarg():
    task = TASKS.get("detect")(box_format="rel1000", image_size=200)
    sample = next(s for s in (task.generate(i, 2) for i in range(50)) if s.meta["targets"])
    assert sample.meta["box_format"] == "rel1000" and sample.meta["image_size"] == [200, 200]
    assert "0-1000" in sample.prompt and sample.meta["answer_box_format"] == "abs"
    rel = [[v * 5 for v in box] for box in json.loads(sample.answer)]  # 1000 / 200 = 5
    scores = REWARDS.get("detection")([f"<answer>{json.dumps(rel)}</answer>"], [sample])
    assert scores["accuracy"] == [1.0]
    with pytest.raises(ValueError, match="box_format"):
        TASKS.get("detect")(box_format="xywh")


def test_levels_get_harder(task):
    means = [
        np.mean([len(task.generate(seed, level).meta["objects"]) for seed in range(30)])
        for level in task.levels
    ]
    assert all(a < b for a, b in zip(means, means[1:], strict=False))


def test_contract_and_reward(task):
    check_contract(task)
    samples = [task.generate(seed, level) for level in task.levels for seed in range(6)]
    assert gold_scores(task, samples)["accuracy"] == [1.0] * len(samples)


def test_doctests():
    result = doctest.testmod(mmrft.tasks.detection)
    assert result.attempted and not result.failed
