"""Verifiable rewards; importing this package registers the built-in ones in ``REWARDS``."""

from mmrft.rewards import counting, format
from mmrft.rewards.base import REWARDS, RewardFn, extract_answer, safe_reward
from mmrft.rewards.counting import count_reward, parse_count
from mmrft.rewards.format import format_reward, is_well_formatted

__all__ = [
    "REWARDS",
    "RewardFn",
    "count_reward",
    "counting",
    "extract_answer",
    "format",
    "format_reward",
    "is_well_formatted",
    "parse_count",
    "safe_reward",
]
