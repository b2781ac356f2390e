"""MMMU-Pro: mmmu-pro/evaluate.py's parse_multi_choice_response, compared with MMMU's.

Each expected letter is derived by running the official rules by hand (numbers refer to the
steps in mmrft.eval.scorers.mmmu_pro's docstring): 1 "Answer:" tail with one letter; 2 "(A)";
3 "A " (no space before needed); 4 "A."; 5 option text when > 5 words; 6 latest wins.
"""

import pytest

from mmrft.eval.scorers import MalformedRecord, score_record

OPTS = ["cat", "dog", "fox", "owl"]  # letters A-D


def pro(prediction, answer="B", mode="official", **fields):
    rec = {"prediction": prediction, "answer": answer, "options": OPTS, **fields}
    return score_record("mmmu_pro", rec, mode)


def mmmu(prediction, answer="B", **fields):
    rec = {"prediction": prediction, "answer": answer, "question_type": "multiple-choice",
           "options": OPTS, **fields}  # fmt: skip
    return score_record("mmmu", rec)


@pytest.mark.parametrize(
    ("prediction", "letter"),
    [
        # 1: the tail "C" holds exactly one letter.
        ("Let me think it over. Answer: C", "C"),
        # 1: the last "Answer:" counts: tail "D".
        ("Answer: A ... on reflection, Answer: D", "D"),
        # 1: tail "(B) dog" holds only B (lower-case letters are not options).
        ("Answer: (B) dog", "B"),
        # 1: tail "Both A and B" holds A and B -> not unique -> 2: no "(X)" -> 3: "A " and "B "
        # in " Answer: Both A and B " -> 6: rfind(" A ") = 13 < rfind(" B ") = 19 -> B.
        ("Answer: Both A and B", "B"),
        # 3: "A " matches inside "DNA " (no space needed before the letter): a single candidate.
        ("The DNA test", "A"),
        # 1: tail "DNA or B" holds D, A, B -> 3: "A " (of "DNA ") and "B " -> 6: rfind(" A ") is
        # -1, rfind(" B ") is not -> B.
        ("Answer: DNA or B", "B"),
        # 3: " NA NB " gives A and B, neither with a space before: both positions -1, argmax
        # takes the first -> A.
        ("NA NB", "A"),
        # 4: " B. because " has no "(B)", no "B " but "B." -> B.
        ("B. because", "B"),
        # 5: 7 words, no letter pattern; "fox" occurs -> C.
        ("I would go with the fox here", "C"),
    ],
)
def test_official_candidates(prediction, letter):
    out = pro(prediction, answer=letter)
    assert out["extracted"] == letter and out["score"] == 1.0 and out["flags"] == []


def test_where_mmmu_pro_and_mmmu_differ():
    # "Answer:B": MMMU strips and pads to " Answer:B ", finds no " B " and, with 1 word,
    # guesses at random; MMMU-Pro's step 1 reads the tail "B".
    assert pro("Answer:B")["extracted"] == "B"
    assert "random_guess" in mmmu("Answer:B", id="x")["flags"]
    # "B. because": MMMU needs " B " -> random guess; MMMU-Pro's step 4 reads "B.".
    assert "random_guess" in mmmu("B. because", id="x")["flags"]
    assert pro("B. because")["score"] == 1.0


def test_no_candidate_is_a_seeded_random_guess_and_strict_refuses():
    # " dunno " has no letter pattern and only one word: the official random.choice.
    out = pro("dunno", id="q1")
    assert out["flags"] == ["random_guess"] and out["extracted"] in "ABCD"
    assert pro("dunno", id="q1") == out  # same id, same draw
    strict = pro("dunno", mode="strict")
    assert strict["score"] == 0.0 and strict["flags"] == ["unparsed"]


def test_strict_reads_the_stated_letter_first():
    # Official: " NA NB " -> A (step 6 tie); strict: the final answer "B" states B.
    assert pro("NA NB. The answer is B", mode="strict")["extracted"] == "B"


def test_gold_is_one_letter_and_options_may_be_a_string():
    assert pro("Answer: D", answer="D", options=str(OPTS))["score"] == 1.0
    # The official comparison is parsed == answer: a list gold is never equal, so refuse it.
    with pytest.raises(MalformedRecord):
        pro("Answer: B", answer=["B"])
