"""The answer layout every tagged reward checks: ``[<think>...</think>] <answer>...</answer>``.

Design note: the check is a tag count (exactly one answer block, at most one think block) plus
one anchored regex, rather than a search, so text before or after the blocks, a second answer
block, nested tags and unterminated tags all fail. Only whitespace may surround or separate the
blocks; the answer must be non-empty (the think block may be empty, as Qwen3-style models emit
``<think></think>`` when not thinking). Tags are case-sensitive. Its own module, below both
``rewards.base`` (which gates scores on it) and the "format" reward (which scores it).
"""

from __future__ import annotations

import re

_LAYOUT = re.compile(
    r"\s*(?:<think>.*?</think>\s*)?<answer>(?P<answer>.*?)</answer>\s*",
    re.DOTALL,
)


def is_well_formatted(text: str) -> bool:
    """True iff ``text`` is an optional think block then exactly one non-empty answer block.

    >>> is_well_formatted("<think>two red, one blue</think>\\n<answer>3</answer>")
    True
    >>> is_well_formatted("<answer>3</answer><answer>4</answer>")
    False
    """
    # Counting tags first rules out repeated and nested blocks, and keeps the regex linear.
    thinks = text.count("<think>")
    if text.count("<answer>") != 1 or text.count("</answer>") != 1:
        return False
    if thinks > 1 or text.count("</think>") != thinks:
        return False
    match = _LAYOUT.fullmatch(text)
    return match is not None and bool(match.group("answer").strip())
