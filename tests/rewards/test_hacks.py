"""Hack resistance audit: degenerate outputs earn nothing they should not.

One test per hack named in the rewards issue; cases already covered elsewhere are listed in a
comment so this file is the index (test_rewards.py: count; test_math.py: math;
test_choice_numeric_ocr.py: choice/numeric; test_grounding.py: boxes).
"""

import time

import pytest

from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS
from mmrft.rewards.math import MAX_ANSWER_CHARS

OPTIONS = ["cat", "dog", "bird", "fish"]
BOX = {"box_format": "abs", "image_size": [1000, 500]}
# A sample per reward whose correct answer is known; every reward with an accuracy is here.
SAMPLES = {
    "count": Sample(id="n", prompt="How many shapes are in the image?", answer="3"),
    "math": Sample(id="m", prompt="What is 1 + 2?", answer="3"),
    "choice": Sample(id="c", prompt="Which animal?", answer="B", meta={"options": OPTIONS}),
    "numeric": Sample(id="v", prompt="What is the value of the 2019 bar?", answer="3"),
    "numeric_relaxed": Sample(id="r", prompt="What is the value of the 2019 bar?", answer="3"),
    "exact_match": Sample(id="e", prompt="What does the sign say?", answer="stop"),
    "ocr": Sample(id="o", prompt="What does the sign say?", answer="stop"),
    "anls": Sample(id="a", prompt="What does the sign say?", answer="stop"),
    "grounding": Sample(id="g", prompt="Find the cup.", answer="[200, 100, 300, 150]", meta=BOX),
    "detection": Sample(
        id="d",
        prompt="Find the cups.",
        answer="[[200, 100, 300, 150], [600, 300, 650, 350]]",
        meta=BOX,
    ),
    "detection_confidence": Sample(
        id="dc", prompt="Find the cups.", answer="[[200, 100, 300, 150]]", meta=BOX
    ),
    "gui_click": Sample(id="u", prompt="Click OK.", answer="[100, 100, 200, 150]", meta=BOX),
    # The practice puzzles (rewards/puzzles.py; hand instances in test_puzzle_rewards.py).
    "puzzle_sudoku": Sample(
        id="ps",
        prompt="Solve the sudoku.",
        answer="[[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]",
        meta={
            "special_info": {"base_matrix": [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [None] * 4]}
        },
    ),
    "puzzle_skyscraper": Sample(
        id="pk",
        prompt="Solve the skyscraper puzzle.",
        answer="[[1, 2], [2, 1]]",
        meta={
            "special_info": {
                "base_matrix": [[None] * 2] * 2,
                "visible_skyscrapers": [[2, 1], [2, 1], [1, 2], [1, 2]],
            }
        },
    ),
    "puzzle_hashi": Sample(
        id="ph",
        prompt="Solve the hashi.",
        answer='[{"start": "a1", "end": "c1", "number": 1}]',
        meta={
            "special_info": {
                "init_islands": [{"cord": "a1", "requirement": 1}, {"cord": "c1", "requirement": 1}]
            }
        },
    ),
    "puzzle_points24": Sample(
        id="p24", prompt="Make 24.", answer="4*6", meta={"special_info": {"init_cards": [4, 6]}}
    ),
    "puzzle_magic_sum": Sample(
        id="pm",
        prompt="Fill A.",
        answer='{"A": 2}',
        meta={"special_info": {"lines": [["A", "B"]], "target": 5, "given": {"B": 3}}},
    ),
}


def _score(name, answer, raw=False):
    completion = answer if raw else f"<answer>{answer}</answer>"
    return REWARDS.get(name)([completion], [SAMPLES[name]])


def _acc(name, answer):
    return _score(name, answer)["accuracy"][0]


def test_every_reward_with_an_accuracy_is_audited():
    # Rewards defined in mmrft.rewards (tasks may register their own verifier-backed ones).
    ours = {n for n in REWARDS.names() if REWARDS.get(n).__module__.startswith("mmrft.rewards.")}
    assert ours - {"format"} == set(SAMPLES)


# ---------------------------------------------------------------------------- empty answer
@pytest.mark.parametrize("name", sorted(SAMPLES))
@pytest.mark.parametrize("completion", ["", "<answer></answer>", "<answer>  \n </answer>"])
def test_an_empty_answer_earns_nothing(name, completion):
    scores = _score(name, completion, raw=True)
    # format needs a non-empty answer, so overall is exactly 0, not even the format share
    assert scores["accuracy"] == [0.0] and scores["overall"] == [0.0]


# ---------------------------------------------------------------------------- every option
@pytest.mark.parametrize(
    "answer",
    [
        "A B C D",  # (also in test_choice_numeric_ocr.py)
        "A/B/C/D",
        "A, B, C, or D",
        "A and B and C and D",
        "(A) cat (B) dog (C) bird (D) fish",  # every option, letters and texts
        "cat, dog, bird, fish",
        "B or C",
        "all of the above",
        "B B B B",
        "ABCD" * 50,
    ],
)
def test_every_option_at_once_earns_nothing(answer):
    assert _acc("choice", answer) == 0.0
    assert _acc("choice", "B") == 1.0  # the same sample does reward a committed answer


# ---------------------------------------------------------------------------- whole-image box
WHOLE_IMAGE = "[0, 0, 1000, 500]"


def test_a_whole_image_box_earns_only_its_overlap():
    # grounding: IoU = target area / image area = (100 * 50) / (1000 * 500) = 0.01
    # (also in test_grounding.py)
    assert _acc("grounding", WHOLE_IMAGE) == pytest.approx(0.01)
    # detection: IoU 0.01 and 0.005 < 0.5 match nothing -> F1 = 0
    assert _acc("detection", WHOLE_IMAGE) == 0.0
    # detection_confidence: no match -> IoU reward 0 -> 0 at any confidence
    for c in (0.0, 0.5, 1.0):
        assert (
            _acc("detection_confidence", f"[{{'Position': {WHOLE_IMAGE}, 'Confidence': {c}}}]") == 0
        )
    # gui_click: a box is a click at its centre (500, 250), outside the target
    assert _acc("gui_click", WHOLE_IMAGE) == 0.0


# ---------------------------------------------------------------------------- many boxes
def _spray(step=25, confidence=None):
    """Boxes of the target's size tiled over the image; one of them is the exact target."""
    boxes = [[x, y, x + 100, y + 50] for x in range(0, 1000, step) for y in range(0, 500, step)]
    assert [200, 100, 300, 150] in boxes
    if confidence is None:
        return str(boxes), len(boxes)
    return str([{"Position": b, "Confidence": confidence} for b in boxes]), len(boxes)


def test_a_huge_list_of_boxes_earns_almost_nothing():
    spray, n = _spray()  # 40 * 20 = 800 boxes, one exactly on the target
    t0 = time.perf_counter()
    assert _acc("grounding", spray) == 0.0  # more than one distinct box for one target
    # detection: at most 2 true positives among 800 -> F1 <= 2 * 2 / (800 + 2)
    # (the one-target version is in test_grounding.py)
    assert _acc("detection", spray) <= 4 / (n + 2)
    assert _acc("gui_click", spray) == 0.0  # many clicks are no click
    points = " ".join(f"({x}, {y})" for x in range(0, 1000, 20) for y in range(0, 500, 20))
    assert _acc("gui_click", points) == 0.0
    assert time.perf_counter() - t0 < 10  # and the spray is cheap to reject


@pytest.mark.parametrize("confidence", [0.0, 0.5, 1.0])
def test_a_spray_of_boxes_earns_almost_nothing_at_any_confidence(confidence):
    # Visual-RFT's sum paid 1 - c per unmatched box: 800 boxes at confidence 0 scored ~0.5.
    # Now IoU reward = 1 / 800 and accuracy = iou * (1 + conf) / 2 <= 1 / 800.
    spray, n = _spray(confidence=confidence)
    assert _acc("detection_confidence", spray) <= 1 / n
    wrong = "[{'Position': [700, 400, 800, 450], 'Confidence': 0.0}]"
    assert _acc("detection_confidence", wrong) == 0.0  # a disowned wrong box earns nothing
    exact = "[{'Position': [200, 100, 300, 150], 'Confidence': 1.0}]"
    assert _acc("detection_confidence", exact) == 1.0


# ---------------------------------------------------------------------------- question echoed
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_question_echoed_back_earns_nothing(name):
    sample = SAMPLES[name]
    # (math's echo case is also in test_math.py)
    accuracy = _acc(name, sample.prompt)
    if name == "ocr":  # 1 - edit distance gives partial credit to any text; stays small
        # "stop" vs the 23-character question: distance >= 23 - 4 = 19 -> score <= 4 / 23
        assert accuracy <= 4 / 23
    else:
        assert accuracy == 0.0


def test_the_question_with_its_options_echoed_earns_nothing():
    echo = "Which animal? A. cat B. dog C. bird D. fish"
    assert _acc("choice", echo) == 0.0


# ---------------------------------------------------------------------------- buried answer
@pytest.mark.parametrize(
    "name, answer",
    [
        ("count", "3 3 3 3"),
        ("count", "3" * 50),  # a huge number, not 3 (also in test_rewards.py)
        ("math", "3 3 3 3"),  # a product (also in test_math.py)
        ("math", "3 " * 1000),  # parser recursion limit -> "last number" fallback, now capped
        ("math", "2 " * 999 + "3"),  # 999 wrong numbers then the right one
        ("math", "0, " * 600 + "3"),
        ("numeric", "3 3 3"),
        ("numeric_relaxed", "3 " * 200),
        ("choice", "B " * 100),
        ("exact_match", "stop stop stop"),
        ("anls", "stop stop stop stop"),  # NLS = 1 - 15/19 < 0.5 -> 0
        ("grounding", "[200, 100, 300, 150] [201, 100, 300, 150]" * 3),
        ("gui_click", "(150, 120) " * 50 + "(10, 10)"),
    ],
)
def test_the_answer_buried_in_a_repeated_string_earns_nothing(name, answer):
    assert _acc(name, answer) == 0.0


def test_ocr_partial_credit_for_repetition_is_below_the_answer():
    # "stop stop stop" vs "stop": 10 insertions over 14 characters -> 1 - 10/14 = 2/7
    assert _acc("ocr", "stop stop stop") == pytest.approx(2 / 7)
    assert _acc("ocr", "stop") == 1.0


def test_the_math_length_cap_leaves_long_real_answers_alone():
    long_sum = "1+" * 100 + "1"  # 201 characters, equals 101
    assert len(long_sum) < MAX_ANSWER_CHARS and _acc("math", long_sum) == 0.0  # gold is 3
    s = Sample(id="m2", prompt="", answer="101")
    assert REWARDS.get("math")([f"<answer>{long_sum}</answer>"], [s])["accuracy"] == [1.0]
