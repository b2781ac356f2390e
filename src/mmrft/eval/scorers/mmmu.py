"""MMMU (Yue et al., 2024): rule-based parsing of multiple-choice and open answers.

Official rules (MMMU-Benchmark/MMMU, ``eval/eval_utils.py``), applied here to the answer region:

* multiple-choice: strip ``, . ! ? ; : '`` from both ends, pad with spaces; candidates are the
  letters written as "(A)"; if none, letters standing alone as " A "; if none and the response
  has more than 5 words, options whose text appears in it (case-insensitive). Several candidates:
  the one whose last occurrence is latest. No candidate: ``random.choice`` of the letters
  (the official script seeds ``random`` with 42 once, so the draw depends on processing order;
  mmrft seeds per record from the record's ``id`` and flags the line ``random_guess``).
* open: split the lower-cased response into sentences, keep the tail after the last key
  phrase of each ("could be", "so", "is", "thus", "therefore", "final", "answer", "result"; and
  "=" in the last sentence), add every number found in them, normalise each (numbers: commas
  removed, ``round(x, 2)``; strings: lower case, one-character strings padded with a space).
  Correct if *any* numeric candidate equals a gold number or a gold string is a *substring* of
  any string candidate.

Strict mode: no random guess (an unparsed line scores 0); an open answer is judged on the final
stated answer only, numbers compared at the gold's precision, strings by normalised equality.
"""

from __future__ import annotations

import ast
import random
import re
from collections.abc import Callable
from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.choice import option_letters
from mmrft.eval.scorers.extract import (
    answer_region,
    choice_letter,
    final_answer,
    normalize_text,
    numbers,
    to_float,
)

OFFICIAL_SEED = 42


def parse_multi_choice(
    response: str,
    letters: list[str],
    index2ans: dict[str, str],
    plain: tuple[str, ...] = (" {} ",),
) -> str | None:
    """The official candidate rules; None where the official code draws a random letter.

    ``plain``: the unbracketed letter patterns tried in turn after "(A)"-style ones. MMMU has
    one, " A "; MMMU-Pro's parser tries "A " and then "A." (``mmmu_pro.parse_pro_choice``);
    everything else is the same in both official files.
    """
    for char in [",", ".", "!", "?", ";", ":", "'"]:
        response = response.strip(char)
    response = f" {response} "
    candidates, bracketed, by_letter = [], False, True
    for letter in letters:
        if f"({letter})" in response:
            candidates.append(letter)
            bracketed = True
    for pattern in plain:
        if not candidates:
            candidates = [c for c in letters if pattern.format(c) in response]
    if not candidates and len(response.split()) > 5:
        candidates = [c for c, ans in index2ans.items() if ans.lower() in response.lower()]
        by_letter = not candidates
    if not candidates:
        return None
    if len(candidates) == 1:
        return candidates[0]
    if not by_letter:
        positions = [response.lower().rfind(index2ans[c].lower()) for c in candidates]
    elif bracketed:
        positions = [response.rfind(f"({c})") for c in candidates]
    else:
        positions = [response.rfind(f" {c} ") for c in candidates]
    return candidates[positions.index(max(positions))]  # np.argmax: first of the maxima


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
        return True
    except ValueError:
        return False


def normalize_open(text: str) -> list[Any]:
    """``normalize_str``: a rounded float for numbers, padded lower-case strings otherwise."""
    text = text.strip()
    if _is_number(text):
        return [round(float(text.replace(",", "")), 2)]
    text = text.lower()
    return [" " + text, text + " "] if len(text) == 1 else [text]


_COMMAS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_SIMPLE = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")


def _extract_numbers(text: str) -> list[str]:
    return _COMMAS.findall(text) + _SCIENTIFIC.findall(text) + _SIMPLE.findall(text)


def parse_open(response: str) -> list[Any]:
    """The official ``parse_open_response``: every normalised candidate, deduplicated."""
    response = response.strip().strip(".").lower()
    sentences = re.split(r"\.\s(?=[A-Z])|\n", response)
    keys = ["could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result "]
    key_responses = []
    for i, sentence in enumerate(sentences):
        if i == len(sentences) - 1:
            keys = [*keys, "="]
        shortest = None  # the official loop: an empty tail is replaced by any later one
        for key in keys:
            if key in sentence:
                tail = sentence.split(key)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest not in [":", ",", ".", "!", "?", ";", "'"]:
            key_responses.append(shortest)
    if not key_responses:
        key_responses = [response]
    candidates = list(key_responses)
    for resp in key_responses:
        candidates.extend(_extract_numbers(resp))
    normalised = [n for c in candidates for n in normalize_open(c)]
    return list(dict.fromkeys(normalised))


def eval_open(gold: str | list[str], preds: list[Any]) -> bool:
    every = gold if isinstance(gold, list) else [gold]
    # a JSON number as the gold answer reads as its text (the official data stores strings)
    golds = [n for g in every for n in normalize_open(g if isinstance(g, str) else str(g))]
    for pred in preds:
        if isinstance(pred, str):
            if any(isinstance(g, str) and g in pred for g in golds):
                return True
        elif pred in golds:
            return True
    return False


def pick_letter(
    record: dict[str, Any],
    region: str,
    mode: str,
    parse: Callable[[str, list[str], dict[str, str]], str | None],
) -> tuple[str | None, list[str]]:
    """The chosen letter and flags, for MMMU and MMMU-Pro alike (``parse`` is each one's
    official parser). Official: the parser, else the official random guess, seeded per record
    so that a line's score does not depend on file order. Strict: an explicit final letter or
    the parser, else no letter ("unparsed")."""
    letters, index2ans = choice_info(record)
    if mode == "strict":
        short, _ = final_answer(region)
        letter = choice_letter(short, len(letters)) or parse(region, letters, index2ans)
        return letter, [] if letter is not None else ["unparsed"]
    letter = parse(region, letters, index2ans)
    if letter is not None:
        return letter, []
    rng = random.Random(f"{OFFICIAL_SEED}:{record.get('id', record['prediction'])}")
    return rng.choice(letters), ["random_guess"]


def read_options(record: dict[str, Any]) -> list[str]:
    options = record.get("options")
    if isinstance(options, str):  # the official data stores "['a', 'b']"
        try:
            options = ast.literal_eval(options)
        except (ValueError, SyntaxError) as e:
            raise MalformedRecord(f"cannot read 'options': {e}") from None
    if not isinstance(options, list) or not options:
        raise MalformedRecord("multiple-choice needs a non-empty 'options' list")
    return [str(o) for o in options]


def choice_info(record: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """``(letters, index2ans)`` as the official ``get_multi_choice_info`` builds them.

    A letter-only record (no ``options``, an ``n_options`` count) has letters but no texts:
    the official rules run as with options whose texts never occur (the text step finds
    nothing).
    """
    if record.get("options") is None and "n_options" in record:
        letters, _ = option_letters(record)
        return letters, {}
    options = read_options(record)
    letters = [chr(ord("A") + i) for i in range(len(options))]
    return letters, dict(zip(letters, options, strict=True))


def _strict_open(response: str, gold: str | list[str]) -> tuple[bool, Any]:
    short, _ = final_answer(response)
    golds = gold if isinstance(gold, list) else [gold]
    found = numbers(short)
    for g in golds:
        g_value = to_float(str(g).strip())
        if g_value is not None:
            if not found:
                continue
            value = to_float(found[-1])
            decimals = len(str(g).strip().split(".")[1]) if "." in str(g) else 0
            if round(value, decimals) == round(g_value, decimals):
                return True, value
        elif normalize_text(short) == normalize_text(g):
            return True, normalize_text(short)
    return False, to_float(found[-1]) if found else normalize_text(short)


@SCORERS.register("mmmu")
class MMMU(Scorer):
    """Fields: question_type (multiple-choice|open), options (list, or its string form; or
    n_options for a letter-only record), answer (a letter for multiple-choice; a string or list
    of strings for open), optional id."""

    required = ("prediction", "answer", "question_type")

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        region, _ = answer_region(record["prediction"])
        gold = record["answer"]
        if record["question_type"] != "multiple-choice":
            if mode == "official":
                preds = parse_open(region)
                return result(eval_open(gold, preds), preds)
            ok, pred = _strict_open(region, gold)
            return result(ok, pred)
        letter, flags = pick_letter(record, region, mode, parse_multi_choice)
        if letter is None:
            return result(False, None, *flags)
        correct = letter in gold if isinstance(gold, list) else letter == gold
        return result(correct, letter, *flags)
