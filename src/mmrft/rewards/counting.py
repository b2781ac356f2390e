"""The "count" reward: is the integer in the last answer block the sample's count?

Design note: accuracy reads only the last ``<answer>...</answer>`` block and accepts plain
decimal digits, optionally with surrounding whitespace and one trailing period ("3", " 3. ").
Number words ("three"), signs, decimals ("3.0") and lists ("1 2 3 4 5") score 0: the rule is
strict so a policy cannot hedge by listing candidates, and at most 9 digits are read so a huge
number is simply wrong instead of an int() error.

    overall = ACCURACY_WEIGHT * accuracy + FORMAT_WEIGHT * format

Accuracy carries the signal. The small format term gives a gradient early on, when few
completions are correct yet the template can already be learned, while keeping every correct
answer (>= 0.9) far above every wrong one (<= 0.1), so format can never be traded for
correctness.
"""

from __future__ import annotations

import re

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS, extract_answer
from mmrft.rewards.format import is_well_formatted

ACCURACY_WEIGHT = 0.9
FORMAT_WEIGHT = 0.1
_INTEGER = re.compile(r"\s*(\d{1,9})\.?\s*")


def parse_count(text: str | None) -> int | None:
    """The integer in ``text`` under the strict rule above, or None.

    >>> parse_count(" 7. "), parse_count("seven"), parse_count("1 2 3"), parse_count("9" * 400)
    (7, None, None, None)
    """
    if text is None:
        return None
    match = _INTEGER.fullmatch(text)
    return int(match.group(1)) if match else None


@REWARDS.register("count")
def count_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """Score counting answers against ``int(sample.answer)``.

    >>> s = Sample(id="x", prompt="How many shapes?", answer="3")
    >>> count_reward(["<think>1, 2, 3</think><answer>3</answer>", "<answer>4</answer>",
    ...               "3 <answer>3</answer>"], [s, s, s])
    {'overall': [1.0, 0.1, 0.9], 'format': [1.0, 1.0, 0.0], 'accuracy': [1.0, 0.0, 1.0]}
    """
    fmt = [float(is_well_formatted(c)) for c in completions]
    acc = [
        float(parse_count(extract_answer(c)) == int(s.answer))
        for c, s in zip(completions, samples, strict=True)
    ]
    overall = [ACCURACY_WEIGHT * a + FORMAT_WEIGHT * f for a, f in zip(acc, fmt, strict=True)]
    return {"overall": overall, "format": fmt, "accuracy": acc}
