"""Visual grounding: RefCOCO/+/g (box IoU >= 0.5); the box helpers ScreenSpot shares.

Box conventions. Model families write coordinates differently, so a record says which one its
prediction uses in ``box_format`` and gives the original ``image_size`` ``[width, height]``:

* ``pixel``: absolute pixels of the original image (Qwen2.5-VL writes absolute pixels of the
  *resized* model input: give that size as ``model_image_size`` and it is rescaled);
* ``norm_1``: fractions of width / height in [0, 1] (SeeClick);
* ``norm_1000``: integers on a 0-1000 grid (Qwen2-VL, InternVL);
* ``norm_999``: the 0-999 grid that Qwen-VL's official RefCOCO script divides by.

Ground truth: ``answer`` is a box in absolute pixels, ``[x1, y1, x2, y2]`` by default or
``[x, y, w, h]`` (COCO and ScreenSpot annotations) with ``answer_format: "xywh"``.

Official RefCOCO scoring (QwenLM/Qwen-VL ``eval_mm/evaluate_grounding.py``, the protocol most
VLM papers follow): the first box in the output; an unparseable output becomes (0, 0, 0, 0);
IoU of continuous boxes (no +1 pixel), torchvision's ``box_iou``; correct iff IoU >= 0.5.
Quirk reproduced: corners are not reordered, so an inverted box has a negative area and a
meaningless IoU. Strict mode reorders corners and clamps boxes to the image.

ScreenSpot (SeeClick's official parsing) lives in :mod:`.screenspot`.
"""

from __future__ import annotations

import re
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import answer_region

IOU_THRESHOLD = 0.5
_NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
_QWEN_BOX = re.compile(rf"\({_NUM},{_NUM}\)\s*,?\s*\({_NUM},{_NUM}\)")
_BOX = re.compile(rf"[\[(]{_NUM},{_NUM},{_NUM},{_NUM}[\])]")
_POINT = re.compile(rf"[\[(]{_NUM},{_NUM}[\])]")
_ANY_NUM = re.compile(r"-?\d+(?:\.\d+)?")
SCALES = {"pixel": None, "norm_1": 1.0, "norm_1000": 1000.0, "norm_999": 999.0}


def parse_box(text: str) -> list[float] | None:
    """The first box written as ``(x1,y1),(x2,y2)`` or ``[x1, y1, x2, y2]`` in ``text``.

    >>> parse_box('<|box_start|>(10,20),(30,40)<|box_end|>')
    [10.0, 20.0, 30.0, 40.0]
    >>> parse_box('{"bbox_2d": [1, 2, 3, 4], "label": "cat"}')
    [1.0, 2.0, 3.0, 4.0]
    """
    found = [m for m in (_QWEN_BOX.search(text), _BOX.search(text)) if m]
    if found:
        first = min(found, key=lambda m: m.start())
        return [float(v) for v in first.groups()]
    nums = _ANY_NUM.findall(text)
    return [float(v) for v in nums[:4]] if len(nums) == 4 else None


def parse_point(text: str) -> tuple[list[float] | None, str]:
    """A click point ``(x, y)``, or the centre of a box; ``(None, "unparsed")`` otherwise."""
    box = parse_box(text)
    if box is not None:
        return [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2], "box_centre"
    m = _POINT.search(text)
    if m:
        return [float(v) for v in m.groups()], "point"
    nums = _ANY_NUM.findall(text)
    if len(nums) == 2:
        return [float(v) for v in nums], "point"
    return None, "unparsed"


def to_pixels(coords: list[float], record: dict[str, Any]) -> list[float]:
    """Coordinates (x, y, x, y, ...) in the record's ``box_format`` -> original-image pixels."""
    fmt = record.get("box_format", "pixel")
    if fmt not in SCALES:
        raise MalformedRecord(f"unknown box_format {fmt!r}; known: {sorted(SCALES)}")
    if fmt == "pixel" and "model_image_size" not in record:
        return list(coords)
    w, h = read_size(record, "image_size")
    if fmt == "pixel":
        mw, mh = read_size(record, "model_image_size")
        sx, sy = w / mw, h / mh
    else:
        sx, sy = w / SCALES[fmt], h / SCALES[fmt]
    return [c * (sx if i % 2 == 0 else sy) for i, c in enumerate(coords)]


def read_size(record: dict[str, Any], key: str) -> tuple[float, float]:
    size = record.get(key)
    if not (isinstance(size, list | tuple) and len(size) == 2 and all(v and v > 0 for v in size)):
        raise MalformedRecord(f"{key!r} must be [width, height]")
    return float(size[0]), float(size[1])


def gold_box(record: dict[str, Any]) -> list[float]:
    box = record["answer"]
    if not (isinstance(box, list | tuple) and len(box) == 4):
        raise MalformedRecord("'answer' must be a box of 4 numbers")
    x, y, a, b = (float(v) for v in box)
    fmt = record.get("answer_format", "xyxy")
    if fmt not in ("xyxy", "xywh"):
        raise MalformedRecord(f"unknown answer_format {fmt!r}; known: ['xywh', 'xyxy']")
    return [x, y, x + a, y + b] if fmt == "xywh" else [x, y, a, b]


def box_iou(a: list[float], b: list[float]) -> float:
    """IoU as torchvision computes it: signed areas, intersection clamped at 0.

    >>> box_iou([0, 0, 10, 10], [5, 0, 15, 10])  # inter 50, union 150
    0.3333333333333333
    """
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = area_a + area_b - inter
    return inter / union if union != 0 else 0.0


def _fix_box(box: list[float], record: dict[str, Any]) -> list[float]:
    x1, x2 = sorted(box[0::2])
    y1, y2 = sorted(box[1::2])
    if "image_size" in record:
        w, h = read_size(record, "image_size")
        x1, x2 = (min(max(v, 0.0), w) for v in (x1, x2))
        y1, y2 = (min(max(v, 0.0), h) for v in (y1, y2))
    return [x1, y1, x2, y2]


@SCORERS.register("refcoco")
class RefCOCO(Scorer):
    """Fields: answer (gold box, pixels), answer_format (xyxy|xywh), box_format
    (pixel|norm_1|norm_1000|norm_999), image_size [w, h], optional model_image_size."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        gold = gold_box(record)
        region, _ = answer_region(record["prediction"])
        raw = parse_box(region)
        flags = [] if raw is not None else ["unparsed"]
        pred = to_pixels(raw if raw is not None else [0.0, 0.0, 0.0, 0.0], record)
        if mode == "strict":
            pred, gold = _fix_box(pred, record), _fix_box(gold, record)
        iou = box_iou(pred, gold)
        return result(iou >= IOU_THRESHOLD, pred, *flags, iou=iou)
