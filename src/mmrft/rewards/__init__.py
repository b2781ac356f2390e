"""Verifiable rewards; importing this package registers the built-in ones in ``REWARDS``.

One module per family: format, counting (count), math, choice, numeric (numeric,
numeric_relaxed, exact_match), grounding (grounding, detection, detection_confidence,
gui_click), ocr (ocr, anls), puzzles (puzzle_sudoku, puzzle_skyscraper, puzzle_hashi,
puzzle_points24, puzzle_magic_sum: practice puzzles judged by ``puzzle_rules``' validators),
length (factories only), compose (weighted sums, gating, schedules, per-task routing), custom
(``module:function`` / ``file.py:function``), judge (LLM-as-judge) and reward_model (sequence
classification). The last two are factories in ``REWARD_FACTORIES``; ``build_reward`` turns any
config value (name, factory, compose) into a reward.
"""

from mmrft.rewards import choice, counting, format, grounding, length, math, numeric, ocr, puzzles
from mmrft.rewards.base import (
    REWARDS,
    RewardFn,
    extract_answer,
    safe_reward,
    score_answers,
)
from mmrft.rewards.build import build_reward
from mmrft.rewards.choice import choice_reward, parse_choice
from mmrft.rewards.compose import (
    REWARD_FACTORIES,
    ComposedReward,
    TaskRouter,
    compose_rewards,
    route_by_task,
    schedule_value,
)
from mmrft.rewards.counting import count_reward, parse_count
from mmrft.rewards.custom import load_reward, resolve_reward
from mmrft.rewards.format import format_reward, is_well_formatted
from mmrft.rewards.grounding import (
    BOX_FORMATS,
    average_precision,
    detection_f1,
    iou_matrix,
    make_box_reward,
    match_boxes,
    parse_boxes,
    parse_detections,
    parse_point,
)
from mmrft.rewards.judge import Judge, make_judge_reward, parse_judge_score
from mmrft.rewards.length import (
    make_overlong_reward,
    make_repetition_reward,
    overlong_penalty,
    repeated_ngram_fraction,
)
from mmrft.rewards.math import MathVerifyPool, math_equal, math_reward
from mmrft.rewards.numeric import normalize_text, numeric_match, parse_number
from mmrft.rewards.ocr import anls_score, levenshtein, normalized_edit_distance
from mmrft.rewards.reward_model import RewardModel, make_reward_model_reward, normalise_scores

__all__ = [
    "BOX_FORMATS",
    "REWARDS",
    "REWARD_FACTORIES",
    "ComposedReward",
    "Judge",
    "MathVerifyPool",
    "RewardFn",
    "RewardModel",
    "TaskRouter",
    "anls_score",
    "average_precision",
    "build_reward",
    "choice",
    "choice_reward",
    "compose_rewards",
    "count_reward",
    "counting",
    "detection_f1",
    "extract_answer",
    "format",
    "format_reward",
    "grounding",
    "iou_matrix",
    "is_well_formatted",
    "length",
    "levenshtein",
    "load_reward",
    "make_box_reward",
    "make_judge_reward",
    "make_overlong_reward",
    "make_repetition_reward",
    "make_reward_model_reward",
    "match_boxes",
    "math",
    "math_equal",
    "math_reward",
    "normalise_scores",
    "normalize_text",
    "normalized_edit_distance",
    "numeric",
    "numeric_match",
    "ocr",
    "overlong_penalty",
    "parse_boxes",
    "parse_choice",
    "parse_count",
    "parse_detections",
    "parse_judge_score",
    "parse_number",
    "parse_point",
    "puzzles",
    "repeated_ngram_fraction",
    "resolve_reward",
    "route_by_task",
    "safe_reward",
    "schedule_value",
    "score_answers",
]
