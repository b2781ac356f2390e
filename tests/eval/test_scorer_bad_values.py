"""Values that used to raise out of a scorer now score that one line as the official code would."""

import json

from mmrft.eval.scorers import score_record


def test_mathvista_inf_extraction_with_an_integer_answer_is_unparsed():
    # official normalize_extracted_answer: try: str(int(float("inf"))) except: None
    rec = {"question_type": "free_form", "answer_type": "integer", "answer": "3",
           "prediction": "", "extraction": "inf"}  # fmt: skip
    out = score_record("mathvista", rec)
    assert out["score"] == 0.0 and out["extracted"] is None and "unparsed" in out["flags"]


def test_mathvista_malformed_precision_rounds_to_integers():
    rec = {"question_type": "free_form", "answer_type": "float", "precision": "x",
           "answer": "2.0", "prediction": "", "extraction": "2.4"}  # fmt: skip
    # precision "x" reads as 0: round(2.4, 0) == 2.0 -> "2.0" == "2.0" (was a ValueError)
    assert score_record("mathvista", rec)["score"] == 1.0
    assert score_record("mathvista", rec, "strict")["score"] == 1.0


def test_mmmu_numeric_gold_reads_as_its_text():
    rec = {"prediction": "The answer is 42.", "answer": 42, "question_type": "open"}
    assert score_record("mmmu", rec)["score"] == 1.0  # was AttributeError: int has no strip


def test_count_overflowing_number_is_no_count_and_stays_valid_json():
    out = score_record("count", {"prediction": "<answer>1e999</answer>", "answer": "3"})
    assert out["score"] == 0.0 and out["extracted"] is None
    json.dumps(out, allow_nan=False)  # no Infinity in the scored JSONL
