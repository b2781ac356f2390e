"""MME-Reasoning (Yuan et al., 2025) scoring: judge extraction, rule functions, tables.

The benchmark's official evaluation is two-stage: a judge LLM rewrites each response into the
answer's expected form (``extract``), then a rule function named by the question's
``function_id`` checks it, or, for open questions, the judge gives a 0/1 consistency verdict
(``score``); ``tables`` aggregates per capability, reasoning type and difficulty. The judge is
any local model or an OpenAI-compatible endpoint (``judge_client``). docs/eval.md
("MME-Reasoning") describes the protocol, the two modes and what cannot be reproduced offline.
"""

from mmrft.eval.mme_reasoning.extract import JudgeCache, JudgeResult, extract, route, verdict
from mmrft.eval.mme_reasoning.judge_client import (
    DEFAULT_JUDGE,
    LocalJudge,
    OpenAIJudge,
    make_judge,
)
from mmrft.eval.mme_reasoning.score import FAILURES, official_score, strict_score
from mmrft.eval.mme_reasoning.tables import aggregate

__all__ = [
    "DEFAULT_JUDGE",
    "FAILURES",
    "JudgeCache",
    "JudgeResult",
    "LocalJudge",
    "OpenAIJudge",
    "aggregate",
    "extract",
    "make_judge",
    "official_score",
    "route",
    "strict_score",
    "verdict",
]
