"""RefCOCO (IoU >= 0.5, Qwen-VL's evaluate_grounding.py) and ScreenSpot (SeeClick)."""

import pytest

from mmrft.eval.scorers import score_record
from mmrft.eval.scorers.grounding import box_iou


def ref(prediction, mode="official", **fields):
    rec = {"prediction": prediction, "answer": [0, 0, 100, 100], "image_size": [200, 100],
           **fields}  # fmt: skip
    return score_record("refcoco", rec, mode)


def test_iou_threshold_in_pixels():
    # [0,0,100,60] vs [0,0,100,100]: inter 6000, union 10000 -> 0.6 -> correct
    assert ref("[0, 0, 100, 60]")["score"] == 1.0
    # [0,0,100,40]: 0.4 -> wrong
    assert ref("[0, 0, 100, 40]")["iou"] == pytest.approx(0.4)


@pytest.mark.parametrize(
    ("prediction", "box_format"),
    [
        ("[0.0, 0.0, 0.5, 1.0]", "norm_1"),  # x * 200, y * 100
        ("<|box_start|>(0,0),(500,1000)<|box_end|>", "norm_1000"),  # Qwen2-VL grid
        ("[0, 0, 50, 50]", "pixel"),  # resized input 100x50 -> x2, y2
    ],
)
def test_box_formats(prediction, box_format):
    extra = {"model_image_size": [100, 50]} if box_format == "pixel" else {}
    out = ref(prediction, box_format=box_format, **extra)
    assert out["extracted"] == pytest.approx([0, 0, 100, 100]) and out["score"] == 1.0


def test_xywh_gold_and_unparsed():
    assert ref("[10, 10, 60, 60]", answer=[10, 10, 50, 50], answer_format="xywh")["score"] == 1.0
    out = ref("no box here")
    assert out["score"] == 0.0 and "unparsed" in out["flags"]  # official (0,0,0,0) -> IoU 0


def test_inverted_box_quirk():
    # x-inverted prediction: official signed area is negative; strict reorders corners.
    assert ref("[100, 0, 0, 100]")["score"] == 0.0
    assert ref("[100, 0, 0, 100]", "strict")["score"] == 1.0
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1.0


def spot(prediction, **fields):
    # ScreenSpot gold: [x, y, w, h] pixels of a 1000x500 screenshot -> [100,100]-[200,150]
    rec = {"prediction": prediction, "answer": [100, 100, 100, 50], "image_size": [1000, 500],
           **fields}  # fmt: skip
    return score_record("screenspot", rec)


def test_screenspot_point_inside_box():
    assert spot("(0.15, 0.25)")["score"] == 1.0  # (150, 125) is inside
    assert spot("(0.2, 0.3)")["score"] == 1.0  # (200, 150): edges count
    assert spot("(0.25, 0.25)")["score"] == 0.0  # x = 250 is outside
    out = spot("[120, 220, 180, 280]", box_format="norm_1000")  # centre (150, 125)
    assert out["score"] == 1.0 and "box_centre" in out["flags"]
