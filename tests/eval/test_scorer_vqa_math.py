"""GQA, V* Bench, MathVision and MathVerse."""

from mmrft.eval.scorers import score_record


def test_gqa():
    g = lambda p, a, mode="official": score_record("gqa", {"prediction": p, "answer": a}, mode)  # noqa: E731
    assert g("Yes.", "yes")["score"] == 1.0  # lower-cased, trailing period dropped
    assert g("the table", "table")["score"] == 0.0  # official: no article removal
    assert g("the table", "table", "strict")["score"] == 1.0


def test_vstar():
    rec = {"options": ["The cup is red", "The cup is blue"], "answer": "A"}
    assert score_record("vstar", {"prediction": "<answer>(A)</answer>", **rec})["score"] == 1.0
    assert score_record("vstar", {"prediction": "The cup is blue", **rec})["score"] == 0.0


def test_mathvision_official_and_strict():
    mv = lambda p, a, mode="official", **f: score_record(  # noqa: E731
        "mathvision", {"prediction": p, "answer": a, **f}, mode
    )
    assert mv(r"So \boxed{\frac{3}{4}}", "0.75")["score"] == 1.0  # numeric, 2 decimals
    assert mv(r"\boxed{0.123}", "0.12")["score"] == 1.0  # quirk: round(x, 2) both sides
    assert mv(r"\boxed{0.123}", "0.12", "strict")["score"] == 0.0
    opts = {"options": ["1", "2", "3", "4", "5"]}
    assert mv("The answer is C.", "C", **opts)["score"] == 1.0
    assert mv(r"\boxed{3}", "C", **opts)["score"] == 1.0  # the option text counts too
    assert mv(r"\boxed{3}", "C", "strict", **opts)["score"] == 1.0


def test_mathverse():
    rec = {"question_type": "multi-choice", "answer": "B"}
    assert score_record("mathverse", {"prediction": "<answer>B</answer>", **rec})["score"] == 1.0
    free = {"question_type": "free-form", "answer": "\\frac{1}{2}"}
    assert score_record("mathverse", {"prediction": r"\boxed{0.5}", **free})["score"] == 1.0
