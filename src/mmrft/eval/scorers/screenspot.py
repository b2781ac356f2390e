"""ScreenSpot (Cheng et al., 2024, SeeClick): is the predicted click inside the target element?

Official rules (njucckevin/SeeClick ``pretrain/screenspot_test.py``, main loop, with
``pred_2_point`` and ``extract_bbox`` from ``pretrain/process_utils.py``), applied to the answer
region, everything compared in fractions of the screenshot:

* gold: ``bbox`` ``[x, y, w, h]`` in pixels becomes ``[x/W, y/H, (x+w)/W, (y+h)/H]``;
* the response contains the substring ``"box"`` (case-sensitive, anywhere: "inbox" and
  "checkbox" count): it must hold Qwen-VL's ``<box>(x1,y1),(x2,y2)</box>`` with non-negative
  integers and no spaces; the first such box's centre, divided by 1000, is the click. No such
  box: the official ``IndexError`` -> a wrong-format line, scored 0;
* otherwise every number matched by ``-?\\d+\\.?\\d*``: exactly 2 are the point, exactly 4 a box
  whose centre is the point; any other count is a wrong-format line (the official
  ``UnboundLocalError``), scored 0;
* correct iff ``x1 <= x <= x2 and y1 <= y <= y2`` (edges count).

The official script knows one model, SeeClick, whose points are fractions. mmrft reads the
non-``<box>`` coordinates in the record's ``box_format`` (default ``norm_1``, SeeClick; a
``norm_1000`` or ``pixel`` model is converted to fractions first); ``<box>`` is always Qwen-VL's
0-1000 grid, as in the official code.

Strict mode fixes the parsing quirks: only a ``<box>`` tag (spaces and decimals allowed) is read
as a 0-1000 box, so "inbox" no longer diverts a point answer; otherwise the first box (centre)
or the first bracketed point is used even when other numbers surround it
(:func:`.grounding.parse_point`).
"""

from __future__ import annotations

import re
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import answer_region
from mmrft.eval.scorers.grounding import SCALES, gold_box, parse_point, read_size

# The official patterns (process_utils.py): Qwen-VL box tags, integers, no spaces; any number.
_OFFICIAL_BOX = re.compile(r"<box>\((\d+,\d+)\),\((\d+,\d+)\)</box>")
_OFFICIAL_NUM = re.compile(r"-?\d+\.?\d*")
_NUM = r"\s*(-?\d+(?:\.\d+)?)\s*"
_STRICT_BOX = re.compile(rf"<box>\s*\({_NUM},{_NUM}\)\s*,?\s*\({_NUM},{_NUM}\)\s*</box>")


def official_point(text: str) -> tuple[list[float] | None, str]:
    """SeeClick's click point for ``text`` as ``(point, how)``; ``how`` says which branch ran.

    Points from the ``<box>`` branch are already fractions (``/ 1000``); points from the number
    branch are still in the model's own coordinates.

    >>> official_point("<box>(100,200),(300,400)</box>")
    ([0.2, 0.3], 'qwen_box')
    >>> official_point("click the inbox at (0.3, 0.4)")  # "box" in "inbox": no <box> tag
    (None, 'unparsed')
    >>> official_point("(0.3, 0.4), button 2")  # three numbers
    (None, 'unparsed')
    """
    if "box" in text:
        found = _OFFICIAL_BOX.findall(text)
        if not found:
            return None, "unparsed"
        (x1, y1), (x2, y2) = ([int(v) for v in p.split(",")] for p in found[0])
        return [(x1 + x2) / 2 / 1000, (y1 + y2) / 2 / 1000], "qwen_box"
    nums = [float(v) for v in _OFFICIAL_NUM.findall(text)]
    if len(nums) == 2:
        return nums, "point"
    if len(nums) == 4:
        return [(nums[0] + nums[2]) / 2, (nums[1] + nums[3]) / 2], "box_centre"
    return None, "unparsed"


def strict_point(text: str) -> tuple[list[float] | None, str]:
    """Like :func:`official_point` without its quirks (see the module note)."""
    m = _STRICT_BOX.search(text)
    if m:
        x1, y1, x2, y2 = (float(v) for v in m.groups())
        return [(x1 + x2) / 2 / 1000, (y1 + y2) / 2 / 1000], "qwen_box"
    return parse_point(text)


def to_fractions(point: list[float], record: dict[str, Any]) -> list[float]:
    """A point in the record's ``box_format`` as fractions of the original screenshot."""
    fmt = record.get("box_format", "norm_1")
    if fmt not in SCALES:
        raise MalformedRecord(f"unknown box_format {fmt!r}; known: {sorted(SCALES)}")
    if fmt == "norm_1":
        return list(point)  # SeeClick: compared as written, no arithmetic
    if fmt == "pixel":
        key = "model_image_size" if "model_image_size" in record else "image_size"
        w, h = read_size(record, key)
    else:
        w = h = SCALES[fmt]
    return [point[0] / w, point[1] / h]


@SCORERS.register("screenspot")
class ScreenSpot(Scorer):
    """Fields: answer (gold box, pixels), answer_format (xywh as in ScreenSpot | xyxy),
    image_size [w, h], box_format of the model's points (norm_1 for SeeClick, norm_1000,
    pixel), optional model_image_size (pixel), optional data_type (text|icon)."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        w, h = read_size(record, "image_size")
        x1, y1, x2, y2 = gold_box({"answer_format": "xywh", **record})
        gold = [x1 / w, y1 / h, x2 / w, y2 / h]  # the official normalisation, same float ops
        region, _ = answer_region(record["prediction"])
        point, how = (official_point if mode == "official" else strict_point)(region)
        if point is None:
            return result(False, None, "unparsed")
        x, y = point if how == "qwen_box" else to_fractions(point, record)
        inside = gold[0] <= x <= gold[2] and gold[1] <= y <= gold[3]
        return result(inside, [x, y], *([how] if how != "point" else []))

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """The mean, plus the official per-type accuracies: ``text_acc`` over ``data_type``
        "text", ``icon_acc`` over every other type (the official ``else`` branch)."""
        out = super().aggregate(records)
        typed = [r for r in records if "data_type" in r]
        groups = {
            "text_acc": [r["score"] for r in typed if r["data_type"] == "text"],
            "icon_acc": [r["score"] for r in typed if r["data_type"] != "text"],
        }
        out.update({k: sum(v) / len(v) for k, v in groups.items() if v})
        return out
