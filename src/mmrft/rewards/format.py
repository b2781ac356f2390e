"""The "format" reward: is a completion ``[<think>...</think>] <answer>...</answer>``, no more?

The check itself, ``is_well_formatted``, lives in ``rewards.layout`` (see its design note).
"""

from __future__ import annotations

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS
from mmrft.rewards.layout import is_well_formatted

__all__ = ["format_reward", "is_well_formatted"]


@REWARDS.register("format")
def format_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """1.0 for a well-formatted completion (see ``is_well_formatted``), else 0.0.

    >>> s = Sample(id="x", prompt="", answer="3")
    >>> format_reward(["<answer>3</answer>", "3", "<answer>3"], [s, s, s])
    {'overall': [1.0, 0.0, 0.0], 'format': [1.0, 0.0, 0.0]}
    """
    scores = [float(is_well_formatted(c)) for c in completions]
    return {"overall": scores, "format": list(scores)}
