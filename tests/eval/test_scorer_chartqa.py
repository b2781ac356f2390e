"""ChartQA relaxed accuracy (pix2struct relaxed_correctness, the paper's section 5.1)."""

import pytest

from mmrft.eval.scorers import score_record


def s(pred, answer, mode="official"):
    return score_record("chartqa", {"prediction": pred, "answer": answer}, mode)["score"]


@pytest.mark.parametrize(
    ("pred", "answer", "expected"),
    [
        ("104", "100", 1.0),  # |104-100|/100 = 4% <= 5% -> correct
        ("105", "100", 1.0),  # exactly 5% -> correct (<=)
        ("106", "100", 0.0),  # 6% -> wrong
        ("95%", "0.95", 1.0),  # "%" divides the prediction by 100: 0.95 vs 0.95
        ("Yes", "yes", 1.0),  # strings: case-insensitive exact match
        ("yes.", "yes", 0.0),  # strings: nothing else is stripped
        ("<answer>2010</answer>", "2000", 1.0),  # 0.5% off: years get the tolerance too
    ],
)
def test_official(pred, answer, expected):
    assert s(pred, answer) == expected


def test_list_of_answers_takes_best():
    assert s("12", ["10", "12"]) == 1.0


@pytest.mark.parametrize(
    ("pred", "answer", "official", "strict"),
    [
        ("0.0", "0", 0.0, 1.0),  # gold 0 is falsy -> string compare "0.0" != "0"
        ("45%", "45", 0.0, 1.0),  # 0.45 vs 45 in official; % is a unit on both sides in strict
        ("1,234", "1234", 0.0, 1.0),  # float("1,234") fails -> string compare
        ("$12", "12", 0.0, 1.0),  # float("$12") fails -> string compare
    ],
)
def test_quirks(pred, answer, official, strict):
    assert s(pred, answer) == official
    assert s(pred, answer, "strict") == strict
