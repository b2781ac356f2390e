"""MMMU-Pro (Yue et al., 2024b): multiple choice over up to 10 options, standard and vision.

Official rules (MMMU-Benchmark/MMMU ``mmmu-pro/evaluate.py``, ``parse_multi_choice_response``
called from ``mmmu_process_results``), applied to the answer region. They differ from MMMU's
``eval/eval_utils.py`` (:mod:`.mmmu`) in four places, marked (*):

1. (*) the text after the last case-sensitive ``"Answer:"``, stripped: if exactly one letter of
   the options occurs in it *anywhere* (as a substring: the "I" of "I think" counts when there
   are 9+ options), that letter is the answer;
2. strip ``, . ! ? ; : '`` from both ends, pad with one space; letters written "(A)";
3. (*) if none, letters followed by a space (``"A "``, no space needed before it);
4. (*) if none, letters followed by a period (``"A."``);
5. if none and the padded response has more than 5 words, options whose text occurs in it
   (case-insensitive);
6. several candidates: the latest ``"(A)"`` when bracketed, else the latest ``" A "`` (a letter
   found by rule 3 or 4 without a space before it scores -1 here), else the latest option text;
   ties go to the first candidate (``np.argmax``); no candidate: ``random.choice`` of the letters
   (unseeded in the official script; mmrft seeds per record as for MMMU, flag ``random_guess``);
7. (*) correct iff the letter equals ``answer`` (no list of golds).

MMMU-Pro has no open questions. Strict mode, as for MMMU: the letter stated in the final answer
first, then the official rules without the random guess (unparsed -> 0).
"""

from __future__ import annotations

from typing import Any

from mmrft.eval.scorers.base import SCORERS, Scorer, need, result
from mmrft.eval.scorers.extract import answer_region
from mmrft.eval.scorers.mmmu import parse_multi_choice, pick_letter


def parse_pro_choice(response: str, letters: list[str], index2ans: dict[str, str]) -> str | None:
    """The official candidate rules; None where the official code draws a random letter.

    >>> letters, texts = list("ABCD"), dict(zip("ABCD", ["cat", "dog", "fox", "owl"]))
    >>> parse_pro_choice("Reasoning... Answer: C", letters, texts)
    'C'
    >>> parse_pro_choice("B. because", letters, texts)  # "B." (rule 4); MMMU needs " B "
    'B'
    """
    pos = response.rfind("Answer:")
    if pos != -1:
        tail = response[pos + len("Answer:") :].strip()
        matching = [c for c in letters if c in tail]
        if len(matching) == 1:
            return matching[0]
    return parse_multi_choice(response, letters, index2ans, plain=("{} ", "{}."))


@SCORERS.register("mmmu_pro")
class MMMUPro(Scorer):
    """Fields: options (list, or its string form; or n_options for a letter-only record, e.g.
    the vision setting), answer (the gold letter), optional id."""

    def score(self, record: dict[str, Any], mode: str = "official") -> dict[str, Any]:
        self.check(record, mode)
        gold = need(record, "answer", str)
        region, _ = answer_region(record["prediction"])
        letter, flags = pick_letter(record, region, mode, parse_pro_choice)
        if letter is None:
            return result(False, None, *flags)
        return result(letter == gold, letter, *flags)
