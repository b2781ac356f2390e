"""Boxes: grounding IoU ("grounding"), detection F1/AP ("detection", "detection_confidence")
and GUI clicks ("gui_click").

Design note -- coordinate conventions. A box is ``(x1, y1, x2, y2)`` in one of:

* ``"abs"``: pixels of the original image (needs ``meta["image_size"] = [W, H]`` to convert);
* ``"resized"``: pixels of the image as the processor resized it (``meta["resized_size"]``),
  which is what Qwen2.5-VL emits;
* ``"norm"``: fractions of the width/height in [0, 1];
* ``"rel1000"``: Qwen2-VL's integers in [0, 1000).

The convention the *model* writes in is never guessed: it comes from ``meta["box_format"]`` or
the ``box_format`` argument of ``make_box_reward`` (set per model family), and a reward without
one raises. Gold boxes (``sample.answer``) are in ``meta["answer_box_format"]``, ``"abs"`` when
absent (the COCO/RefCOCO dataset convention). When both sides share a convention no image size
is needed: IoU is invariant to scaling each axis. Otherwise both are mapped to ``"norm"``.

Parsing reads every ``[x1, y1, x2, y2]`` / ``(x1, y1, x2, y2)`` quadruple (so JSON such as
``{"bbox_2d": [...]}`` works) and Qwen2-VL's ``(x1,y1),(x2,y2)``. A box with ``x2 <= x1`` or
``y2 <= y1`` has zero area and matches nothing. Hacks and how they fail:

* empty answer / no box: IoU 0 (a peer's reward gives an empty answer full marks);
* a box covering the whole image around a small target: IoU = target area / image area;
* several boxes for one target ("grounding"): more than one distinct box scores 0;
* a huge list of boxes ("detection"): matching is one-to-one, so precision and F1 collapse.
  AP does not punish low-confidence extras, which is why "detection" trains on F1 and only
  logs AP.
* boxes at confidence 0 ("detection_confidence"): Visual-RFT's confidence term pays ``1 - c``
  per unmatched box, so their sum gives any zero-confidence guess half marks; the reward
  trains on ``iou * (1 + confidence) / 2`` instead.

Matching is Hungarian (``scipy.optimize.linear_sum_assignment``) on the pairs with IoU >= the
threshold, maximising the number of matches and then their total IoU; ``method="greedy"``
(highest IoU first) needs no scipy and usually agrees.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS, RewardFn, score_answers

Box = tuple[float, float, float, float]
BOX_FORMATS = ("abs", "resized", "norm", "rel1000")
IOU_THRESHOLD = 0.5  # PASCAL VOC / RefCOCO "correct" threshold, and mAP@0.5

_N = r"(-?\d{1,7}(?:\.\d{1,17})?)"  # a float repr has up to 17 significant digits
_BOX_RE = re.compile(
    rf"[\[(]\s*{_N}\s*,\s*{_N}\s*,\s*{_N}\s*,\s*{_N}\s*[\])]"  # [x1, y1, x2, y2]
    rf"|\(\s*{_N}\s*,\s*{_N}\s*\)\s*,\s*\(\s*{_N}\s*,\s*{_N}\s*\)"  # (x1,y1),(x2,y2)
)
_POINT_RE = re.compile(rf"[\[(]\s*{_N}\s*,\s*{_N}\s*[\])]|x\s*=\s*{_N}\s*,\s*y\s*=\s*{_N}")
_BOX_KEYS = ("bbox_2d", "bbox", "box", "position", "Position", "box_2d")
_SCORE_KEYS = ("confidence", "Confidence", "score", "Score")


# ---------------------------------------------------------------------------- conventions
def _scale(fmt: str, meta: dict[str, Any]) -> tuple[float, float]:
    """Divisors (sx, sy) that take ``fmt`` coordinates to [0, 1]."""
    if fmt == "norm":
        return 1.0, 1.0
    if fmt == "rel1000":
        return 1000.0, 1000.0
    key = {"abs": "image_size", "resized": "resized_size"}.get(fmt)
    if key is None:
        raise ValueError(f"unknown box format {fmt!r}; known: {list(BOX_FORMATS)}")
    if key not in meta:
        raise ValueError(f"box format {fmt!r} needs meta[{key!r}] = [width, height]")
    w, h = meta[key]
    return float(w), float(h)


def to_norm(boxes: np.ndarray, fmt: str, meta: dict[str, Any]) -> np.ndarray:
    """Boxes ``[N, 4]`` (or points ``[N, 2]``) in ``fmt`` mapped to [0, 1] coordinates.

    >>> to_norm(np.array([[0, 0, 500, 250]]), "rel1000", {}).tolist()
    [[0.0, 0.0, 0.5, 0.25]]
    >>> to_norm(np.array([[0, 0, 320, 120]]), "abs", {"image_size": [640, 480]}).tolist()
    [[0.0, 0.0, 0.5, 0.25]]
    """
    sx, sy = _scale(fmt, meta)
    reps = boxes.shape[-1] // 2
    return boxes / np.array([sx, sy] * reps)


def _common_space(pred: np.ndarray, pred_fmt: str, gold: np.ndarray, gold_fmt: str, meta: dict):
    if pred_fmt == gold_fmt:
        _scale(pred_fmt, {"image_size": (1, 1), "resized_size": (1, 1)})  # validate the name
        return pred, gold
    return to_norm(pred, pred_fmt, meta), to_norm(gold, gold_fmt, meta)


def box_formats(sample: Sample, box_format: str | None = None) -> tuple[str, str]:
    """``(prediction format, gold format)`` for a sample; raises if the model's is unset."""
    fmt = box_format or sample.meta.get("box_format")
    if fmt is None:
        raise ValueError(
            f"sample {sample.id}: set meta['box_format'] (or the reward's box_format) to one of "
            f"{list(BOX_FORMATS)}; box conventions are never guessed"
        )
    return fmt, sample.meta.get("answer_box_format", "abs")


# ---------------------------------------------------------------------------- parsing
def parse_boxes(text: str | None) -> list[Box]:
    """Every box in ``text``, in order of appearance.

    >>> parse_boxes('[{"bbox_2d": [10, 20, 30, 40]}] and (1,2),(3,4)')
    [(10.0, 20.0, 30.0, 40.0), (1.0, 2.0, 3.0, 4.0)]
    >>> parse_boxes("no box"), parse_boxes(None)
    ([], [])
    """
    if not text:
        return []
    boxes = []
    for m in _BOX_RE.finditer(text):
        nums = [g for g in m.groups() if g is not None]
        boxes.append(tuple(float(v) for v in nums))
    return boxes


def _walk_detections(obj: Any, out: list[tuple[Box, float]]) -> None:
    if isinstance(obj, dict):
        box = next((obj[k] for k in _BOX_KEYS if k in obj), None)
        score = next((obj[k] for k in _SCORE_KEYS if k in obj), 1.0)
        if isinstance(box, (list, tuple)) and len(box) == 4:
            out.append((tuple(float(v) for v in box), min(max(float(score), 0.0), 1.0)))
        else:
            for v in obj.values():
                _walk_detections(v, out)
    elif isinstance(obj, (list, tuple)):
        if len(obj) == 4 and all(isinstance(v, (int, float)) for v in obj):
            out.append((tuple(float(v) for v in obj), 1.0))
        else:
            for v in obj:
                _walk_detections(v, out)


def parse_detections(text: str | None) -> list[tuple[Box, float]]:
    """``[(box, confidence), ...]``: from JSON / a Python literal when the answer is one
    (Visual-RFT's ``[{'Position': [...], 'Confidence': 0.9}]``), else every box at confidence 1.

    >>> parse_detections("[{'Position': [1, 2, 3, 4], 'Confidence': 0.9}]")
    [((1.0, 2.0, 3.0, 4.0), 0.9)]
    >>> parse_detections("[1, 2, 3, 4] [5, 6, 7, 8")
    [((1.0, 2.0, 3.0, 4.0), 1.0)]
    """
    if not text:
        return []
    for loads in (json.loads, ast.literal_eval):
        try:
            out: list[tuple[Box, float]] = []
            _walk_detections(loads(text), out)
            return out
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            continue
    return [(b, 1.0) for b in parse_boxes(text)]


def _dedupe(boxes: list[Box]) -> list[Box]:
    return list(dict.fromkeys(boxes))


# ---------------------------------------------------------------------------- IoU and matching
def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` ``[N, 4]`` with every box in ``b`` ``[M, 4]`` -> ``[N, M]``.

    Degenerate boxes (``x2 <= x1`` or ``y2 <= y1``, NaN, inf) have IoU 0 with everything.

    >>> iou_matrix(np.array([[0, 0, 2, 2]]), np.array([[1, 0, 3, 2], [0, 0, 2, 2]])).round(3)
    array([[0.333, 1.   ]])
    """
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    valid_a = np.isfinite(a).all(1) & (a[:, 2] > a[:, 0]) & (a[:, 3] > a[:, 1])  # [N]
    valid_b = np.isfinite(b).all(1) & (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])  # [M]
    a, b = np.where(valid_a[:, None], a, 0.0), np.where(valid_b[:, None], b, 0.0)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])  # [N]
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # [M]
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)  # [N, M]
    union = area_a[:, None] + area_b[None, :] - inter  # [N, M]
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou * (valid_a[:, None] & valid_b[None, :])


def match_boxes(
    ious: np.ndarray, iou_threshold: float = IOU_THRESHOLD, method: str = "hungarian"
) -> list[tuple[int, int]]:
    """One-to-one ``(pred, gold)`` pairs with IoU >= ``iou_threshold`` from an ``[N, M]`` matrix.

    "hungarian" maximises the number of pairs, then their total IoU; "greedy" takes the highest
    IoU first.

    >>> match_boxes(np.array([[0.9, 0.6], [0.7, 0.0]]))  # greedy would keep only (0, 0)
    [(0, 1), (1, 0)]
    """
    ok = ious >= iou_threshold
    if not ok.any():
        return []
    if method == "greedy":
        pairs, used_p, used_g = [], set(), set()
        for flat in np.argsort(-ious, axis=None, kind="stable"):
            i, j = np.unravel_index(flat, ious.shape)
            if ok[i, j] and i not in used_p and j not in used_g:
                pairs.append((int(i), int(j)))
                used_p.add(i)
                used_g.add(j)
        return sorted(pairs)
    if method != "hungarian":
        raise ValueError(f"unknown matching method {method!r}; known: ['greedy', 'hungarian']")
    from scipy.optimize import linear_sum_assignment

    # Each admissible pair is worth 1 (count first) plus its IoU / 2 (< 1: tie-break only).
    gain = np.where(ok, 1.0 + ious / 2, 0.0)
    rows, cols = linear_sum_assignment(gain, maximize=True)
    return [(int(i), int(j)) for i, j in zip(rows, cols, strict=True) if ok[i, j]]


def detection_f1(
    pred: np.ndarray, gold: np.ndarray, iou_threshold: float = IOU_THRESHOLD
) -> tuple[float, float, float]:
    """``(precision, recall, f1)`` with one-to-one matching; nothing predicted for nothing = 1.

    >>> detection_f1(np.array([[0, 0, 1, 1], [5, 5, 6, 6]]), np.array([[0, 0, 1, 1]]))
    (0.5, 1.0, 0.6666666666666666)
    """
    n_pred, n_gold = len(pred), len(gold)
    if n_pred == 0 or n_gold == 0:
        return (1.0, 1.0, 1.0) if n_pred == n_gold else (0.0, 0.0, 0.0)
    tp = len(match_boxes(iou_matrix(pred, gold), iou_threshold))
    precision, recall = tp / n_pred, tp / n_gold
    return precision, recall, 2 * tp / (n_pred + n_gold)  # F1 = 2PR / (P + R)


def average_precision(
    pred: np.ndarray, scores: np.ndarray, gold: np.ndarray, iou_threshold: float = IOU_THRESHOLD
) -> float:
    """AP at ``iou_threshold`` for one image and class (PASCAL VOC 2010+ all-point interpolation).

    Predictions are taken by descending score (ties keep output order); each one matches the
    unmatched gold box it overlaps most if that IoU >= the threshold (the VOC/COCO protocol).

    >>> average_precision(np.array([[9, 9, 10, 10], [0, 0, 1, 1]]), np.array([0.9, 0.8]),
    ...                   np.array([[0, 0, 1, 1]]))  # the hit ranks second: precision 1/2
    0.5
    """
    if len(gold) == 0:
        return 1.0 if len(pred) == 0 else 0.0
    if len(pred) == 0:
        return 0.0
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    ious = iou_matrix(pred, gold)[order]  # [N, M], rows by descending score
    taken = np.zeros(len(gold), dtype=bool)
    tp = np.zeros(len(pred))
    for k, row in enumerate(ious):
        row = np.where(taken, -1.0, row)
        j = int(row.argmax())
        if row[j] >= iou_threshold:
            taken[j], tp[k] = True, 1.0
    cum_tp = np.cumsum(tp)
    precision = cum_tp / np.arange(1, len(pred) + 1)  # [N]
    recall = cum_tp / len(gold)  # [N]
    # Precision envelope: p_interp(r) = max_{r' >= r} p(r'); AP = sum over recall steps.
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float((steps * envelope).sum())


def visual_rft_rewards(
    pred: list[Box], scores: list[float], gold: np.ndarray, iou_threshold: float = IOU_THRESHOLD
) -> tuple[float, float]:
    """Visual-RFT's ``(iou_reward, confidence_reward)`` for detection (Liu et al., 2025).

    As in its code: duplicate boxes are dropped; predictions, by descending confidence, each
    take the unmatched gold box of highest IoU, a match only if IoU > 0.5;
    ``iou_reward = sum(matched IoU) / max(#gold, #pred)`` and
    ``confidence_reward = mean(c if matched else 1 - c)``.

    >>> visual_rft_rewards([(0, 0, 2, 2), (5, 5, 6, 6)], [1.0, 0.2], np.array([[0, 0, 2, 2]]))
    (0.5, 0.9)
    """
    seen: dict[Box, float] = {}
    for box, score in zip(pred, scores, strict=True):
        seen.setdefault(tuple(box), float(score))
    if not seen:
        return 0.0, 0.0
    boxes, confs = list(seen), list(seen.values())
    order = sorted(range(len(boxes)), key=lambda k: -confs[k])
    ious = iou_matrix(np.array(boxes), gold) if len(gold) else np.zeros((len(boxes), 0))
    taken: set[int] = set()
    iou_sum, conf_sum = 0.0, 0.0
    for k in order:
        free = [(ious[k, j], j) for j in range(ious.shape[1]) if j not in taken]
        best, j = max(free, default=(0.0, -1))
        if best > iou_threshold:
            taken.add(j)
            iou_sum, conf_sum = iou_sum + float(best), conf_sum + confs[k]
        else:
            conf_sum += 1.0 - confs[k]
    return iou_sum / max(len(gold), len(boxes)), conf_sum / len(boxes)


# ---------------------------------------------------------------------------- rewards
def _pred_and_gold(answer: str | None, sample: Sample, box_format: str | None):
    pred_fmt, gold_fmt = box_formats(sample, box_format)
    gold = np.array(parse_boxes(sample.answer), dtype=float).reshape(-1, 4)
    dets = parse_detections(answer)
    pred = np.array([b for b, _ in dets], dtype=float).reshape(-1, 4)
    scores = np.array([c for _, c in dets], dtype=float)
    pred, gold = _common_space(pred, pred_fmt, gold, gold_fmt, sample.meta)
    return pred, scores, gold


def grounding_accuracy(answer: str | None, sample: Sample, box_format: str | None = None) -> dict:
    """IoU of the one predicted box with the one gold box; 0 for no box or several."""
    pred_fmt, gold_fmt = box_formats(sample, box_format)
    gold = parse_boxes(sample.answer)
    if len(gold) != 1:
        raise ValueError(f"sample {sample.id}: grounding needs one gold box, got {sample.answer!r}")
    pred = _dedupe(parse_boxes(answer))
    iou = 0.0
    if len(pred) == 1:
        p, g = _common_space(np.array(pred), pred_fmt, np.array(gold), gold_fmt, sample.meta)
        iou = float(iou_matrix(p, g)[0, 0])
    return {"accuracy": iou, "iou": iou, "hit@0.5": float(iou >= IOU_THRESHOLD)}


def detection_accuracy(answer: str | None, sample: Sample, box_format: str | None = None) -> dict:
    """F1 at IoU 0.5 (trains), with precision, recall and AP@0.5 logged.

    "No boxes" must be said (``[]``): a missing or empty answer scores 0 even when there is
    nothing to find, or silence would be a free win on every empty scene.
    """
    if answer is None or not answer.strip():
        return {"accuracy": 0.0, "precision": 0.0, "recall": 0.0, "ap50": 0.0}
    pred, scores, gold = _pred_and_gold(answer, sample, box_format)
    precision, recall, f1 = detection_f1(pred, gold)
    ap = average_precision(pred, scores, gold)
    return {"accuracy": f1, "precision": precision, "recall": recall, "ap50": ap}


def detection_confidence_accuracy(
    answer: str | None, sample: Sample, box_format: str | None = None
) -> dict:
    """Visual-RFT's IoU and confidence rewards (both logged), combined as
    ``iou * (1 + confidence) / 2``: confidence scales what localisation earned.

    Visual-RFT sums them, which pays ``1 - c`` for every unmatched box: one wrong box, or 400,
    at confidence 0 would earn half the maximum while an honest near miss at confidence 0.9
    earns 0.05. The product keeps its two anchors (a correct box at confidence 1 scores 1, at
    confidence 0 scores 1/2) and gives nothing that localises nothing.

    Deviation: Visual-RFT's ``accuracy_reward_iou`` / ``accuracy_reward_confidence``
    (``src/virft/src/open_r1/grpo.py``) first run math-verify on the whole completion against
    the whole solution and pay 1.0 to both when it says equal, boxes unread. Kept from R1-V's
    math reward, it compares whatever number math-verify pulls out of each box list (for
    ``[{'Position': [254, 303, 291, 365], ...}]`` that is 303), so the bare text "303" or a
    wrong box sharing that coordinate earns full marks. mmrft skips the pre-check: the boxes
    alone decide (tests/rewards/test_detection_precheck.py shows the hack).
    """
    pred, scores, gold = _pred_and_gold(answer, sample, box_format)
    iou_r, conf_r = visual_rft_rewards([tuple(b) for b in pred.tolist()], scores.tolist(), gold)
    return {"accuracy": iou_r * (1 + conf_r) / 2, "iou": iou_r, "confidence": conf_r}


def parse_point(text: str | None) -> tuple[float, float] | None:
    """The one click point in ``text`` (``[x, y]``, ``(x, y)``, ``x=.., y=..``), or the centre
    of the one box when there is no point; None when absent or ambiguous.

    >>> parse_point("click(x=10, y=20)"), parse_point("[0, 0, 10, 10]"), parse_point("(1,2) (3,4)")
    ((10.0, 20.0), (5.0, 5.0), None)
    """
    if not text:
        return None
    boxes = parse_boxes(text)
    points = {
        tuple(float(g) for g in m.groups() if g is not None) for m in _POINT_RE.finditer(text)
    }
    if len(points) == 1 and not boxes:
        return next(iter(points))
    if not points and len(set(boxes)) == 1:
        x1, y1, x2, y2 = boxes[0]
        return (x1 + x2) / 2, (y1 + y2) / 2
    return None


def click_accuracy(answer: str | None, sample: Sample, box_format: str | None = None) -> float:
    """1.0 iff the click point lies inside (or on the edge of) the gold box."""
    pred_fmt, gold_fmt = box_formats(sample, box_format)
    gold = parse_boxes(sample.answer)
    if len(gold) != 1:
        raise ValueError(f"sample {sample.id}: gui_click needs one gold box, got {sample.answer!r}")
    point = parse_point(answer)
    if point is None:
        return 0.0
    p, g = _common_space(np.array([point]), pred_fmt, np.array(gold), gold_fmt, sample.meta)
    (x, y), (x1, y1, x2, y2) = p[0], g[0]
    return float(x1 <= x <= x2 and y1 <= y <= y2)


_ACCURACY: dict[str, Callable[..., Any]] = {
    "grounding": grounding_accuracy,
    "detection": detection_accuracy,
    "detection_confidence": detection_confidence_accuracy,
    "gui_click": click_accuracy,
}


def make_box_reward(kind: str, box_format: str | None = None) -> RewardFn:
    """A box reward (``kind`` one of grounding, detection, detection_confidence, gui_click)
    for a model family whose boxes are in ``box_format`` (overrides ``meta["box_format"]``).

    >>> s = Sample(id="x", prompt="", answer="[0, 0, 100, 100]", meta={"image_size": [200, 200]})
    >>> make_box_reward("grounding", "rel1000")(["<answer>[0, 0, 500, 500]</answer>"], [s])
    {'overall': [1.0], 'format': [1.0], 'accuracy': [1.0], 'iou': [1.0], 'hit@0.5': [1.0]}
    """
    accuracy = _ACCURACY[kind]
    if box_format is not None and box_format not in BOX_FORMATS:
        raise ValueError(f"unknown box format {box_format!r}; known: {list(BOX_FORMATS)}")

    def reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        return score_answers(completions, samples, lambda a, s: accuracy(a, s, box_format))

    reward.__name__ = f"{kind}_reward"
    return reward


@REWARDS.register("grounding")
def grounding_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * IoU + 0.1 * format`` for one target box; format from ``meta["box_format"]``.

    >>> s = Sample(id="x", prompt="", answer="[10, 10, 20, 20]", meta={"box_format": "abs"})
    >>> grounding_reward(["<answer>[10, 10, 20, 20]</answer>", "<answer></answer>",
    ...                   "<answer>[0, 0, 1000, 1000]</answer>"], [s] * 3)["iou"]
    [1.0, 0.0, 0.0001]
    """
    return make_box_reward("grounding")(completions, samples)


@REWARDS.register("detection")
def detection_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * F1@0.5 + 0.1 * format`` over all boxes; logs precision, recall, ap50.

    >>> s = Sample(id="x", prompt="", answer="[[0, 0, 10, 10], [20, 20, 30, 30]]",
    ...            meta={"box_format": "abs"})
    >>> detection_reward(["<answer>[[0, 0, 10, 10]]</answer>"], [s])["recall"]
    [0.5]
    """
    return make_box_reward("detection")(completions, samples)


@REWARDS.register("detection_confidence")
def detection_confidence_reward(
    completions: list[str], samples: list[Sample]
) -> dict[str, list[float]]:
    """``0.9 * iou * (1 + confidence) / 2 + 0.1 * format`` from Visual-RFT's confidence-aware
    rewards (see ``detection_confidence_accuracy`` for why not their sum).

    >>> s = Sample(id="x", prompt="", answer="[0, 0, 10, 10]", meta={"box_format": "abs"})
    >>> detection_confidence_reward(
    ...     ["<answer>[{'Position': [0, 0, 10, 10], 'Confidence': 0.8}]</answer>"], [s]
    ... )["confidence"]
    [0.8]
    """
    return make_box_reward("detection_confidence")(completions, samples)


@REWARDS.register("gui_click")
def gui_click_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * inside + 0.1 * format``: is the click point inside the target element's box?

    >>> s = Sample(id="x", prompt="", answer="[100, 100, 200, 150]", meta={"box_format": "abs"})
    >>> gui_click_reward(["<answer>(150, 120)</answer>", "<answer>(10, 10)</answer>"],
    ...                  [s, s])["accuracy"]
    [1.0, 0.0]
    """
    return make_box_reward("gui_click")(completions, samples)
