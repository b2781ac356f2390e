"""Multiple choice with a letter-only gold answer (scorer ``choice``; V* Bench reuses it).

Many benchmarks give the gold as a letter and put the options in the image or the prompt
(MMMU-Pro vision, MathVerse vision-only, MMStar, SEED-Bench), so the option texts may be
absent. No official generative rule exists to reproduce; mmrft's rule, the same in both modes:

* the option letter stated in the final answer (:func:`.extract.choice_letter`: "B", "(B)",
  "B.", "B) text", "(B)" in text, "answer is B", "option: B");
* else, when ``options`` are given, the option whose text equals the final answer after
  normalisation.

Valid letters: one per option in ``options``, else ``n_options`` of them, else A-E (five, the
common maximum). The range never depends on the gold: a gold letter outside it is a malformed
record (give ``n_options``), so that "I think ..." cannot read as option I because the gold is I.
"""

from __future__ import annotations

from typing import Any

from mmrft.eval.scorers.base import SCORERS, MalformedRecord, Scorer, result
from mmrft.eval.scorers.extract import choice_letter, final_answer, normalize_text

DEFAULT_N_OPTIONS = 5


def option_letters(record: dict[str, Any]) -> tuple[list[str], list[str] | None]:
    """``(letters, option texts or None)`` from ``options``, else ``n_options``, else A-E."""
    options = record.get("options")
    if options is not None:
        if not isinstance(options, list) or not options:
            raise MalformedRecord("'options' must be a non-empty list")
        texts: list[str] | None = [str(o) for o in options]
        n = len(options)
    else:
        texts, n = None, record.get("n_options", DEFAULT_N_OPTIONS)
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 26:
            raise MalformedRecord(f"'n_options' must be an integer in 1..26, got {n!r}")
    return [chr(ord("A") + i) for i in range(n)], texts


def gold_letter(answer: Any, letters: list[str], texts: list[str] | None) -> str:
    """The gold as a letter: "B", "(B)", "B." or, with option texts, the text of an option."""
    gold = str(answer).strip()
    core = gold.strip("().").strip().upper()
    if core in letters:
        return core
    if texts is not None:
        normalised = [normalize_text(t) for t in texts]
        if normalize_text(gold) in normalised:
            return letters[normalised.index(normalize_text(gold))]
    raise MalformedRecord(
        f"'answer' {gold!r} is not one of the letters {letters[0]}-{letters[-1]}"
        + (" nor an option text" if texts is not None else " (set n_options for more)")
    )


@SCORERS.register("choice")
class Choice(Scorer):
    """Fields: answer (a letter, or an option text when options are given), optional options
    (option texts in letter order), optional n_options (when the texts are not given)."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        letters, texts = option_letters(record)
        gold = gold_letter(record["answer"], letters, texts)
        short, _ = final_answer(record["prediction"])
        letter = choice_letter(short, len(letters))
        if letter is None and texts is not None:
            normalised = [normalize_text(t) for t in texts]
            if normalize_text(short) in normalised:
                letter = letters[normalised.index(normalize_text(short))]
        if letter is None:
            return result(False, None, "unparsed")
        return result(letter == gold, letter)
