"""Rule-based answer extraction from free-form reasoning output, shared by all scorers.

Design note. Official benchmark code expects a short, direct answer (or calls GPT-4 to pull one
out). RL-tuned models write reasoning first, so every scorer first narrows the output to its
*answer region*, with fixed rules (docs/eval.md, "Extraction"):

1. the content of the last ``<answer>...</answer>`` block, if any;
2. else the content of the last ``\\boxed{...}`` (braces balanced), if any;
3. else the whole output with ``<think>...</think>`` blocks removed.

Scorers that want a *short* answer (a number, a word) then call :func:`final_answer`, which adds
rule 2b: the text after the last "the (final) answer is" / "answer:" phrase, up to the end of
its line or sentence. The region rules run in both modes; official mode then applies the
benchmark's own parsing to the region, exactly as the official code applies it to a response.
"""

from __future__ import annotations

import re

_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.S | re.I)
_OPEN_ANSWER = re.compile(r"<answer>(.*)$", re.S | re.I)
_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_ANSWER_IS = re.compile(
    r"(?:the\s+)?(?:final\s+|correct\s+)?answer\s*(?:is|:)\s*:?\s*(.+?)(?:\n|\.(?!\d)|$)",
    re.I,
)
_NUMBER_TOKEN = re.compile(
    r"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d*\.\d+|\d+)(?:[eE][-+]?\d+)?"
)


def find_boxed(text: str) -> list[str]:
    r"""Contents of every ``\boxed{...}`` / ``\fbox{...}`` with balanced braces.

    >>> find_boxed(r"so \boxed{\frac{1}{2}} and \boxed{3}")
    ['\\frac{1}{2}', '3']
    """
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, start = 1, m.end()
        for i in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                out.append(text[start:i])
                break
    return out


def answer_region(text: str) -> tuple[str, str]:
    """``(region, rule)``: the part of ``text`` that holds the answer, and which rule found it.

    >>> answer_region("<think>maybe 3</think><answer> 4 </answer>")
    ('4', 'answer_tag')
    >>> answer_region(r"It is \\boxed{7}.")
    ('7', 'boxed')
    >>> answer_region("<think>hmm</think>B")
    ('B', 'raw')
    """
    tags = _ANSWER_TAG.findall(text)
    if tags:
        return tags[-1].strip(), "answer_tag"
    boxed = find_boxed(text)
    if boxed:
        return boxed[-1].strip(), "boxed"
    stripped = _THINK.sub("", text)
    opened = _OPEN_ANSWER.search(stripped)  # "<answer> 4" cut off before its closing tag
    if opened:
        return opened.group(1).strip(), "answer_tag_unclosed"
    return stripped.strip(), "raw"


def final_answer(text: str) -> tuple[str, str]:
    """The answer region, narrowed to the text after the last "the answer is" phrase.

    >>> final_answer("Counting rows, there are 3. So the answer is 12.")
    ('12', 'answer_is')
    >>> final_answer("<answer>The answer is B</answer>")
    ('B', 'answer_tag+answer_is')
    """
    region, rule = answer_region(text)
    matches = list(_ANSWER_IS.finditer(region))
    if matches:
        tail = matches[-1].group(1).strip().strip("*").strip()
        if tail:
            return tail, "answer_is" if rule == "raw" else f"{rule}+answer_is"
    return region, rule


def numbers(text: str) -> list[str]:
    """Every number token in ``text``, in order (thousands commas kept as written).

    >>> numbers("from 1,234.5 down to -3 and .5e2")
    ['1,234.5', '-3', '.5e2']
    """
    return _NUMBER_TOKEN.findall(text)


def to_float(text: str) -> float | None:
    """``float`` of a number token after removing thousands commas; None if it is not one."""
    try:
        return float(text.replace(",", ""))
    except (ValueError, AttributeError):
        return None


def last_number(text: str) -> float | None:
    """The last number in ``text`` as a float, or None."""
    found = numbers(text)
    return to_float(found[-1]) if found else None


_LETTER_PATTERNS = (
    r"^\(?([A-Z])\)?(?:[.:)]|\s|$)",  # "B", "(B)", "B.", "B) text", "B: text"
    r"\(([A-Z])\)",  # "... (B) ..."
    r"(?:answer|option|choice)\s*(?:is|:)?\s*\(?([A-Z])\b",  # "answer is B", "Option: C"
)


def choice_letter(text: str, n_options: int) -> str | None:
    """An option letter (A, B, ...) stated in ``text``, or None.

    >>> choice_letter("(C) 12 cm", 4)
    'C'
    >>> choice_letter("I pick option B because", 4)
    'B'
    >>> choice_letter("E", 4) is None
    True
    """
    valid = {chr(ord("A") + i) for i in range(n_options)}
    stripped = text.strip()
    for pattern in _LETTER_PATTERNS:
        flags = re.I if "answer" in pattern else 0
        for m in re.finditer(pattern, stripped, flags):
            letter = m.group(1).upper()
            if letter in valid:
                return letter
    return None


def levenshtein(a: str, b: str) -> int:
    """Edit distance with unit costs for insertion, deletion and substitution.

    >>> levenshtein("kitten", "sitting")
    3
    """
    if len(a) < len(b):
        a, b = b, a
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def normalize_text(text: str) -> str:
    """Lower case, collapse whitespace, drop surrounding quotes and trailing punctuation."""
    text = " ".join(str(text).lower().split())
    return text.strip().strip("\"'`").rstrip(".!?;:,").strip()
