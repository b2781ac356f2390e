"""MME (Fu et al., 2023): yes/no accuracy and acc+ (both questions of an image right).

Official rules (the MME ``eval_tool/calculation.py`` from BradyFU/Awesome-Multimodal-Large-Language-
Models): the response is lower-cased; exactly "yes" / "no" is taken as is; otherwise the first
four characters decide: containing "yes" -> yes, else containing "no" -> no, else "other"
(always wrong). Per subtask: acc = right questions / questions, acc+ = images with both
questions right / images, subtask score = 100 * (acc + acc+); Perception and Cognition totals sum
their subtasks.

Quirk (official mode): the 4-character prefix reads "not sure" and "none" as "no", and misses a
yes/no after four characters ("I think yes" is "other"). Strict mode takes the first standalone
word "yes" or "no" in the answer region instead.

Records group by ``image`` (or ``question_id`` where absent) for acc+, and by ``category`` (the
subtask name, e.g. "existence") for the subtask scores. The official script pairs consecutive
lines instead; grouping by image is the same on the official files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import answer_region

PERCEPTION = [
    "existence",
    "count",
    "position",
    "color",
    "posters",
    "celebrity",
    "scene",
    "landmark",
    "artwork",
    "OCR",
]
COGNITION = ["commonsense_reasoning", "numerical_calculation", "text_translation", "code_reasoning"]


def parse_yes_no(response: str, mode: str = "official") -> str:
    """ "yes", "no" or "other".

    >>> parse_yes_no("Yes, there is a dog.")
    'yes'
    >>> parse_yes_no("not sure")  # official: the prefix "not " contains "no"
    'no'
    >>> parse_yes_no("not sure", mode="strict")
    'other'
    """
    text = response.lower()
    if mode == "strict":
        m = re.search(r"\b(yes|no)\b", text)
        return m.group(1) if m else "other"
    if text in ("yes", "no"):
        return text
    prefix = text[:4]
    return "yes" if "yes" in prefix else "no" if "no" in prefix else "other"


@SCORERS.register("mme")
class MME(Scorer):
    """Fields: answer (yes|no), image or question_id (groups the pair), category (subtask)."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        gold = str(record["answer"]).strip().lower()
        if gold not in ("yes", "no"):
            raise MalformedRecord(f"MME answers are yes/no, got {record['answer']!r}")
        region, _ = answer_region(record["prediction"])
        pred = parse_yes_no(region, mode)
        return result(pred == gold, pred, *(["other"] if pred == "other" else []))

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        out = super().aggregate(records)
        by_cat: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for r in records:
            image = r.get("image", r.get("question_id"))
            by_cat[str(r.get("category", "all"))][str(image)].append(r["score"])
        subtasks = {}
        for cat, images in by_cat.items():
            scores = [s for group in images.values() for s in group]
            acc = sum(scores) / len(scores)
            acc_plus = sum(all(s == 1.0 for s in g) for g in images.values()) / len(images)
            subtasks[cat] = {"acc": acc, "acc_plus": acc_plus, "score": 100 * (acc + acc_plus)}
        n_images = sum(len(images) for images in by_cat.values())
        both = sum(all(s == 1.0 for s in g) for imgs in by_cat.values() for g in imgs.values())
        out["acc"] = out["mean"]
        out["acc_plus"] = both / n_images if n_images else 0.0
        out["subtasks"] = subtasks
        for name, cats in (("perception", PERCEPTION), ("cognition", COGNITION)):
            if any(c in subtasks for c in cats):
                out[name] = sum(subtasks[c]["score"] for c in cats if c in subtasks)
        return out
