"""The "choice" reward: multiple-choice answers given as a letter or as the option's text.

Design note: the options live in ``sample.meta["options"]``, either a list (letters A, B, ...
in order; a leading "A." / "(A)" on an option is ignored) or a dict ``{"A": "cat", ...}``. The
gold ``sample.answer`` may be a letter or an option's text. An answer is read strictly, so a
policy cannot hedge:

* a lone letter: ``B``, ``(B)``, ``b.``, ``B)``, optionally after "the answer is" / "answer:" /
  "option" / "choice";
* a letter followed by its option text (``(B) cat``); if the text belongs to another option the
  answer contradicts itself and scores 0;
* an option's text alone (case, punctuation and whitespace ignored);
* anything else, in particular several letters ("A B C D", "A or B") or a sentence that merely
  mentions a letter, scores 0.

Without options any single letter A-Z is accepted and no text matching is possible.
"""

from __future__ import annotations

import re
import string
from typing import Any

from mmrft.data.sample import Sample
from mmrft.rewards.base import REWARDS, score_answers

_PREFIX = re.compile(
    r"^(?:(?:so|thus|therefore),?\s+)?(?:the\s+)?(?:final\s+|correct\s+|best\s+)?"
    r"(?:answer|option|choice)\s*(?:is|:)?\s*:?\s*",
    re.IGNORECASE,
)
# A letter, bracketed or not, then either the end or a separator and the rest (option text).
_LETTER = re.compile(r"^\(?([A-Za-z])\)?(?:[.:)]|(?=\s)|$)\s*(.*)$", re.DOTALL)
_OPTION_LABEL = re.compile(r"^\(?([A-Z])[.):]\s+")
_PUNCT = str.maketrans("", "", string.punctuation)


def _norm(text: str) -> str:
    return " ".join(text.lower().translate(_PUNCT).split())


def options_by_letter(options: Any) -> dict[str, str]:
    """``{"A": text, ...}`` from a list or dict of options (None or junk -> ``{}``).

    >>> options_by_letter(["A. cat", "B. dog"]), options_by_letter({"a": "cat"})
    ({'A': 'cat', 'B': 'dog'}, {'A': 'cat'})
    """
    if isinstance(options, dict):
        return {str(k).strip().upper(): str(v) for k, v in options.items()}
    if isinstance(options, (list, tuple)):
        out = {}
        for letter, text in zip(string.ascii_uppercase, options, strict=False):
            text = str(text).strip()
            label = _OPTION_LABEL.match(text)
            out[letter] = text[label.end() :] if label and label.group(1) == letter else text
        return out
    return {}


def parse_choice(text: str | None, options: Any = None) -> str | None:
    """The single option letter ``text`` commits to, or None (see the module note).

    >>> opts = ["cat", "dog", "bird"]
    >>> [parse_choice(t, opts) for t in ["B", "(b)", "The answer is B.", "Dog", "(B) dog"]]
    ['B', 'B', 'B', 'B', 'B']
    >>> [parse_choice(t, opts) for t in ["A B C", "A or B", "(B) cat", "D", "", None]]
    [None, None, None, None, None, None]
    """
    if not text:
        return None
    by_letter = options_by_letter(options)
    text = _PREFIX.sub("", text.strip(), count=1).strip()
    match = _LETTER.match(text)
    if match:
        letter, rest = match.group(1).upper(), _norm(match.group(2))
        if by_letter and letter not in by_letter:
            letter = None
        if letter and (not rest or (by_letter and rest == _norm(by_letter[letter]))):
            return letter
    # An option's text alone; it must match exactly one option.
    hits = [k for k, v in by_letter.items() if _norm(v) and _norm(v) == _norm(text)]
    return hits[0] if len(hits) == 1 else None


def choice_accuracy(answer: str | None, sample: Sample) -> float:
    """1.0 iff the answer's letter is the gold letter (gold may be a letter or option text)."""
    options = sample.meta.get("options")
    gold = parse_choice(sample.answer, options)
    if gold is None:
        raise ValueError(f"gold answer {sample.answer!r} is not one of the options {options!r}")
    return float(parse_choice(answer, options) == gold)


@REWARDS.register("choice")
def choice_reward(completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
    """``0.9 * accuracy + 0.1 * format`` for multiple choice.

    >>> s = Sample(id="x", prompt="Which animal?", answer="B", meta={"options": ["cat", "dog"]})
    >>> choice_reward(["<answer>(B)</answer>", "<answer>dog</answer>",
    ...                "<answer>A B</answer>"], [s] * 3)["accuracy"]
    [1.0, 1.0, 0.0]
    """
    return score_answers(completions, samples, choice_accuracy)
