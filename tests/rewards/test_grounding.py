"""Boxes: coordinate conventions, IoU, one-to-one matching, F1/AP, Visual-RFT, GUI clicks."""

import numpy as np
import pytest

from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS, average_precision, iou_matrix, make_box_reward, match_boxes
from mmrft.rewards.grounding import parse_detections, visual_rft_rewards

# One target, 100 x 50 px at (200, 100) in a 1000 x 500 image; the processor resized the image
# to 500 x 250 (Qwen2.5-VL answers in those pixels).
META = {"image_size": [1000, 500], "resized_size": [500, 250]}
TARGET = "[200, 100, 300, 150]"
SAME_BOX = {
    "abs": "[200, 100, 300, 150]",
    "resized": "[100, 50, 150, 75]",
    "norm": "[0.2, 0.2, 0.3, 0.3]",
    "rel1000": "[200, 200, 300, 300]",
}


def _ground(answer, box_format, meta=META, gold=TARGET):
    s = Sample(id="g", prompt="", answer=gold, meta={**meta, "box_format": box_format})
    return REWARDS.get("grounding")([f"<answer>{answer}</answer>"], [s])


@pytest.mark.parametrize("fmt", list(SAME_BOX))
def test_every_convention_maps_to_the_same_box(fmt):
    assert _ground(SAME_BOX[fmt], fmt)["iou"] == [pytest.approx(1.0)]


@pytest.mark.parametrize("fmt", ["abs", "resized", "norm"])
def test_a_box_read_in_the_wrong_convention_misses(fmt):
    # The rel1000 answer read as if it were another convention lands elsewhere.
    assert _ground(SAME_BOX["rel1000"], fmt)["iou"][0] < 0.5


def test_the_convention_is_never_guessed():
    s = Sample(id="g", prompt="", answer=TARGET, meta=META)
    with pytest.raises(ValueError, match="box_format"):
        REWARDS.get("grounding")(["<answer>[1, 2, 3, 4]</answer>"], [s])
    with pytest.raises(ValueError, match="resized_size"):
        _ground("[1, 2, 3, 4]", "resized", meta={"image_size": [10, 10]})
    # The reward's own box_format wins over the sample's (set per model family).
    s = Sample(id="g", prompt="", answer=TARGET, meta={**META, "box_format": "abs"})
    scores = make_box_reward("grounding", "rel1000")(
        [f"<answer>{SAME_BOX['rel1000']}</answer>"], [s]
    )
    assert scores["iou"] == [pytest.approx(1.0)]


@pytest.mark.parametrize(
    "answer, iou",
    [
        ("", 0.0),  # empty answer: 0 (a peer gives full marks here)
        ("none", 0.0),
        ("[0, 0, 1000, 500]", 5000 / 500000),  # whole image around a 100 x 50 target
        ('{"bbox_2d": [200, 100, 300, 150], "label": "cup"}', 1.0),  # JSON
        ("(200,100),(300,150)", 1.0),  # Qwen2-VL's native pair form
        ("[200, 100, 300, 150] [200, 100, 300, 150]", 1.0),  # a duplicate is one box
        ("[200, 100, 300, 150] [0, 0, 10, 10]", 0.0),  # two boxes for one target: hedging
        ("[300, 150, 200, 100]", 0.0),  # reversed corners: zero area
        ("[250, 100, 350, 150]", 1 / 3),  # half overlap: 2500 / 7500
        ("[200, 100, 300", 0.0),  # unterminated
        ("[nan, 1, 2, 3]", 0.0),
    ],
)
def test_grounding_iou_cases(answer, iou):
    scores = _ground(answer, "abs")
    assert scores["iou"] == [pytest.approx(iou)]
    assert scores["accuracy"] == scores["iou"]


def test_unterminated_answer_block_scores_zero():
    s = Sample(id="g", prompt="", answer=TARGET, meta={"box_format": "abs"})
    assert REWARDS.get("grounding")([f"<answer>{TARGET}"], [s])["overall"] == [0.0]


def test_iou_matrix_hand_computed():
    # [0,0,2,2] vs [1,1,3,3]: intersection 1, union 4 + 4 - 1 = 7.
    assert iou_matrix(np.array([[0, 0, 2, 2]]), np.array([[1, 1, 3, 3]]))[0, 0] == pytest.approx(
        1 / 7
    )
    assert iou_matrix(np.zeros((0, 4)), np.array([[0, 0, 1, 1]])).shape == (0, 1)


@pytest.mark.parametrize("method", ["hungarian", "greedy"])
def test_matching_is_one_to_one(method):
    # Three copies of a prediction on one gold box: one match, not three.
    ious = iou_matrix(np.array([[0, 0, 10, 10]] * 3), np.array([[0, 0, 10, 10], [50, 50, 60, 60]]))
    assert len(match_boxes(ious, method=method)) == 1


def _detect(answer, gold="[[0, 0, 10, 10], [20, 20, 30, 30]]", reward="detection"):
    s = Sample(id="d", prompt="", answer=gold, meta={"box_format": "abs"})
    return REWARDS.get(reward)([f"<answer>{answer}</answer>"], [s])


def test_detection_perfect_partial_and_empty():
    assert _detect("[[20, 20, 30, 30], [0, 0, 10, 10]]")["accuracy"] == [1.0]  # order-free
    half = _detect("[[0, 0, 10, 10]]")  # P = 1, R = 1/2, F1 = 2/3
    assert (half["precision"], half["recall"]) == ([1.0], [0.5])
    assert half["accuracy"] == [pytest.approx(2 / 3)]
    assert _detect("")["accuracy"] == [0.0]
    assert _detect("[]", gold="[]")["accuracy"] == [1.0]  # nothing there, nothing claimed


def test_a_huge_box_list_does_not_win():
    gold = "[[0, 0, 10, 10]]"
    spray = [[x, y, x + 10, y + 10] for x in range(0, 100, 5) for y in range(0, 100, 5)]  # 400
    scores = _detect(str(spray), gold=gold)
    assert scores["recall"] == [1.0]
    assert scores["accuracy"][0] == pytest.approx(2 / 401)  # F1 = 2 * 1 / (400 + 1)
    assert scores["accuracy"][0] < _detect("[[1, 1, 11, 11]]", gold=gold)["accuracy"][0]
    dup = _detect("[[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]]", gold=gold)
    assert dup["accuracy"] == [pytest.approx(0.5)]  # duplicates are false positives: 2/(3+1)


def test_average_precision_hand_computed():
    gold = np.array([[0, 0, 10, 10], [20, 20, 30, 30]])
    pred = np.array([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30]])
    # By score: hit (P=1, R=.5), miss, hit (P=2/3, R=1) -> AP = .5 * 1 + .5 * 2/3.
    assert average_precision(pred, np.array([0.9, 0.8, 0.7]), gold) == pytest.approx(5 / 6)
    # A confident false positive ranked first: miss, hit (P=1/2, R=.5), hit (P=2/3, R=1);
    # the envelope lifts P at R=.5 to 2/3 -> AP = .5 * 2/3 + .5 * 2/3.
    assert average_precision(pred, np.array([0.5, 0.9, 0.4]), gold) == pytest.approx(2 / 3)


def test_visual_rft_confidence_reward():
    gold = np.array([[0, 0, 10, 10]])
    # Matched at confidence 0.9 -> 0.9; unmatched at 0.3 -> 0.7: mean 0.8.
    # IoU reward: 1.0 / max(1 gold, 2 preds) = 0.5.
    assert visual_rft_rewards([(0, 0, 10, 10), (50, 50, 60, 60)], [0.9, 0.3], gold) == (
        pytest.approx(0.5),
        pytest.approx(0.8),
    )
    answer = "[{'Position': [0, 0, 10, 10], 'Confidence': 0.9}, {'Position': [50, 50, 60, 60], 'Confidence': 0.3}]"
    scores = _detect(answer, gold="[[0, 0, 10, 10]]", reward="detection_confidence")
    assert (scores["iou"], scores["confidence"]) == ([0.5], [pytest.approx(0.8)])
    assert _detect("", gold="[[0, 0, 10, 10]]", reward="detection_confidence")["overall"] == [0.0]


def test_parse_detections_tolerates_garbage():
    for text in ["", "[[[[", "{'Position': 'x'}", "[1, 2, 3]", "null", "9" * 10000, "[" * 5000]:
        assert isinstance(parse_detections(text), list)


@pytest.mark.parametrize(
    "answer, inside",
    [
        ("(150, 120)", 1.0),
        ("[150, 120]", 1.0),
        ("click(x=150, y=120)", 1.0),
        ("[100, 100, 200, 150]", 1.0),  # a box: its centre is the click
        ("(10, 10)", 0.0),
        ("(150, 120) (10, 10)", 0.0),  # two clicks: ambiguous
        ("", 0.0),
        ("[0, 0, 1000, 1000]", 0.0),  # centre (500, 500) is outside
    ],
)
def test_gui_click(answer, inside):
    s = Sample(id="u", prompt="", answer="[100, 100, 200, 150]", meta={"box_format": "abs"})
    assert REWARDS.get("gui_click")([f"<answer>{answer}</answer>"], [s])["accuracy"] == [inside]


def test_gui_click_in_rel1000():
    s = Sample(
        id="u",
        prompt="",
        answer="[100, 100, 200, 150]",
        meta={"box_format": "rel1000", "image_size": [1000, 500]},
    )  # gold in pixels; (150, 240) per mille of 1000 x 500 is pixel (150, 120)
    assert REWARDS.get("gui_click")(["<answer>(150, 240)</answer>"], [s])["accuracy"] == [1.0]
