"""MME-Reasoning (Yuan et al., 2025): judge extraction + rule functions, official and strict.

Official (Alpha-Innovator/MME-Reasoning, ``vlmeval/dataset/mmereasoning``): a judge LLM
extracts the answer in the form the question's ``prompt_id`` asks for (five tries, temperature
0 -> 2.0), then the rule function named by ``function_id`` checks it; open questions get the
judge's 0/1 consistency verdict. Strict: no LLM; answers read by deterministic rules, open
questions by normalised equality. Details: ``mmrft.eval.mme_reasoning`` and docs/eval.md.

Fields: prediction, answer, question_type, function_id, prompt_id, special_info (puzzles),
index, question; capability / reasoning_type / difficulty for the tables. The judge is given to
the constructor (``mmrft eval --judge``); without one, official mode scores every line False
with the failure ``no_judge``. Every failure is scored False and counted by reason in the
aggregate's ``failures``.
"""

from __future__ import annotations

from typing import Any

from mmrft.eval.scorers.base import SCORERS, Scorer

# The mmrft.eval.mme_reasoning modules are imported where used: they import
# mmrft.eval.scorers.extract, whose package imports this module first.


@SCORERS.register("mme_reasoning")
class MMEReasoning(Scorer):
    required = ("prediction", "answer", "question_type")

    def __init__(self, judge: Any = None, cache: Any = None) -> None:
        """``judge``: anything with ``generate(prompt, temperature) -> str``; ``cache``: a
        ``JudgeCache`` or the path of its JSONL file (None: judge answers are not kept)."""
        from mmrft.eval.mme_reasoning.extract import JudgeCache

        self.judge = judge
        self.cache = cache if isinstance(cache, JudgeCache) or cache is None else JudgeCache(cache)

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        from mmrft.eval.mme_reasoning.score import official_score, strict_score

        self.check(record, mode)
        if mode == "official":
            return official_score(record, self.judge, self.cache)
        return strict_score(record)

    def aggregate(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        from mmrft.eval.mme_reasoning.tables import aggregate

        return aggregate(records)
