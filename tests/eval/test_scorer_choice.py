"""Letter-only multiple choice: ``choice`` (mmrft's rule), and MMMU / MMMU-Pro without texts."""

import pytest

from mmrft.eval.scorers import MalformedRecord, score_record


def choice(prediction, answer, **fields):
    return score_record("choice", {"prediction": prediction, "answer": answer, **fields})


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("<answer>B</answer>", "B", 1.0),
        ("The answer is (C).", "C", 1.0),
        ("<answer>B</answer>", "(B)", 1.0),  # a gold written "(B)" or "B." is the letter B
        ("<answer>B</answer>", "b", 1.0),
        ("<answer>D</answer>", "B", 0.0),
    ],
)
def test_letter_only_gold_without_option_texts(prediction, gold, expected):
    assert choice(prediction, gold)["score"] == expected


def test_letter_range_does_not_depend_on_the_gold():
    # Default A-E: "I think ..." is not option I, it states nothing -> unparsed, and a gold
    # letter past E needs n_options (else the range would be read off the gold).
    out = choice("I think so", "B")
    assert out["score"] == 0.0 and out["flags"] == ["unparsed"]
    with pytest.raises(MalformedRecord, match="n_options"):
        choice("<answer>H</answer>", "H")
    assert choice("<answer>H</answer>", "H", n_options=10)["score"] == 1.0


def test_option_texts_still_used_when_given():
    opts = {"options": ["red", "blue"]}
    assert choice("<answer>blue</answer>", "B", **opts)["score"] == 1.0
    assert choice("<answer>A</answer>", "red", **opts)["score"] == 1.0  # gold as option text
    with pytest.raises(MalformedRecord):
        choice("<answer>A</answer>", "green", **opts)


def test_mmmu_and_mmmu_pro_accept_letter_only_records():
    # No option texts: the official rules run with letters A-D and an empty index2ans.
    rec = {"answer": "C", "n_options": 4}
    mmmu = {"question_type": "multiple-choice", **rec}
    assert score_record("mmmu", {"prediction": "(C)", **mmmu})["score"] == 1.0
    # Pro step 1: "Answer:" tail "C".
    assert score_record("mmmu_pro", {"prediction": "Answer: C", **rec})["score"] == 1.0
    # Nothing parses and there is no text to search: the seeded official random guess.
    out = score_record("mmmu_pro", {"prediction": "unsure", "id": "v1", **rec})
    assert out["flags"] == ["random_guess"] and out["extracted"] in "ABCD"
