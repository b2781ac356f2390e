"""MathVista: calculate_score.py's normalisation, then string equality with the answer."""

from mmrft.eval.scorers import score_record

MC = {"question_type": "multi_choice", "answer_type": "text", "precision": None,
      "choices": ["larger than", "equal to", "smaller than"], "answer": "equal to"}  # fmt: skip


def mv(mode="official", **fields):
    return score_record("mathvista", fields, mode)


def test_integer_is_truncated_officially():
    rec = {"question_type": "free_form", "answer_type": "integer", "answer": "3"}
    # str(int(float("3.7"))) == "3" -> official counts it right; strict: 3.7 != 3.
    assert mv(prediction="", extraction="3.7", **rec)["score"] == 1.0
    assert mv("strict", prediction="", extraction="3.7", **rec)["score"] == 0.0


def test_float_precision_and_string_equality():
    rec = {"question_type": "free_form", "answer_type": "float", "precision": 1, "answer": "1.2"}
    # round(1.23, 1) -> 1.2 -> "1.2" == "1.2"
    assert mv(prediction="The length is 1.23 cm", **rec)["score"] == 1.0
    # gold written "1.50" with precision 2: str(round(1.5, 2)) = "1.5" != "1.50"
    rec2 = {**rec, "precision": 2, "answer": "1.50"}
    assert mv(prediction="", extraction="1.5", **rec2)["score"] == 0.0
    assert mv("strict", prediction="", extraction="1.5", **rec2)["score"] == 1.0
    # the HF copy stores precision as 1.0: read as 1
    assert mv(prediction="", extraction="1.23", **{**rec, "precision": 1.0})["score"] == 1.0


def test_multi_choice_letter_text_and_nearest():
    assert mv(prediction="<answer>(B)</answer>", **MC)["score"] == 1.0  # "(B)" -> "B" -> choice
    assert mv(prediction="equal to", **MC)["score"] == 1.0  # response is a choice: kept as is
    # Official: an unparseable extraction still lands on the nearest choice (Levenshtein).
    out = mv(prediction="", extraction="equal", **MC)
    assert out["score"] == 1.0 and "nearest_choice" in out["flags"]
    # Strict: no guess.
    assert mv("strict", prediction="", extraction="equal", **MC)["score"] == 0.0


def test_list_answers_compare_as_strings_officially():
    rec = {"question_type": "free_form", "answer_type": "list", "answer": "[1, 2]"}
    assert mv(prediction="", extraction="[1, 2]", **rec)["score"] == 1.0
    assert mv(prediction="", extraction="[1,2]", **rec)["score"] == 0.0  # spacing differs
    assert mv("strict", prediction="", extraction="[1,2]", **rec)["score"] == 1.0


def test_text_answers_and_rule_extraction_flag():
    rec = {"question_type": "free_form", "answer_type": "text", "answer": "Blue"}
    out = mv(prediction="I think the answer is Blue.", **rec)
    assert out["score"] == 1.0 and "rule_extraction" in out["flags"]
    assert mv(prediction="<answer>blue</answer>", **rec)["score"] == 0.0  # case-sensitive
    assert mv("strict", prediction="<answer>blue</answer>", **rec)["score"] == 1.0


def test_quick_extract_rule():
    rec = {"question_type": "free_form", "answer_type": "integer", "answer": "14"}
    assert mv(prediction='The answer is "14".', **rec)["flags"] == []
