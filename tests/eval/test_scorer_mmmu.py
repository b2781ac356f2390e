"""MMMU: eval_utils.py's multiple-choice and open-answer parsing."""

from mmrft.eval.scorers import score_record

OPTS = ["red apple", "green pear", "blue plum", "black cherry"]


def mmmu(prediction, answer, mode="official", **fields):
    rec = {"prediction": prediction, "answer": answer, "question_type": "multiple-choice",
           "options": OPTS, **fields}  # fmt: skip
    return score_record("mmmu", rec, mode)


def test_letters_brackets_and_latest_mention():
    assert mmmu("(C)", "C")["extracted"] == "C"
    # Two bracketed letters: the one mentioned last wins.
    assert mmmu("Not (A); the answer is (B)", "B")["score"] == 1.0
    # Bare letters need spaces around them.
    assert mmmu("I choose B", "B")["score"] == 1.0


def test_option_text_only_for_long_responses():
    # More than 5 words: the option text is searched.
    assert mmmu("I believe it must be the green pear here", "B")["extracted"] == "B"
    # 3 words: no content match -> official random guess, flagged and seeded.
    out = mmmu("green pear obviously", "B", id="val_1")
    assert "random_guess" in out["flags"]
    assert out == mmmu("green pear obviously", "B", id="val_1")  # same id, same draw
    strict = mmmu("green pear obviously", "B", "strict", id="val_1")
    assert strict["score"] == 0.0 and "unparsed" in strict["flags"]


def test_options_as_string_repr():
    assert mmmu("(D)", "D", options=str(OPTS))["score"] == 1.0


def open_(prediction, answer, mode="official"):
    rec = {"prediction": prediction, "answer": answer, "question_type": "open"}
    return score_record("mmmu", rec, mode)["score"]


def test_open_numbers_round_to_two_decimals():
    assert open_("Thus the total is 1,200.", "1200") == 1.0  # commas removed
    assert open_("so x = 0.123", "0.12") == 1.0  # round(0.123, 2) == 0.12


def test_open_quirks():
    # Any number in a key sub-response counts: 5 is mentioned, so official says right.
    assert open_("The result is 5 or 7", "5") == 1.0
    assert open_("The result is 5 or 7", "5", "strict") == 0.0  # strict: the final number, 7
    # String golds match as substrings of the candidate.
    assert open_("the answer is dark blue", "blue") == 1.0
    assert open_("the answer is dark blue", "blue", "strict") == 0.0
