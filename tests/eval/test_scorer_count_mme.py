"""Counting (integer exact match) and MME (yes/no, acc+)."""

from mmrft.eval.scorers import SCORERS, score_record, score_records


def test_count():
    c = lambda p, mode="official": score_record("count", {"prediction": p, "answer": 3}, mode)  # noqa: E731
    assert c("<think>maybe 4</think><answer>3</answer>")["score"] == 1.0
    assert c("There are 3.0 cubes")["score"] == 1.0  # 3.0 == 3
    assert c("<answer>three</answer>")["score"] == 0.0  # no digit
    assert c("<answer>three</answer>", "strict")["score"] == 1.0  # number words in strict
    assert c("I see 2 spheres and 5 cubes, so 4")["extracted"] == 4  # the last number


def test_mme_prefix_rule_and_quirk():
    m = lambda p, a="no", mode="official": score_record(  # noqa: E731
        "mme", {"prediction": p, "answer": a}, mode
    )
    assert m("Yes, it is.", "yes")["score"] == 1.0
    assert m("not sure")["score"] == 1.0  # prefix "not " contains "no" -> "no"
    assert m("not sure", mode="strict")["score"] == 0.0  # strict: "other"
    assert m("I think yes", "yes")["score"] == 0.0  # prefix "i th" -> other
    assert m("I think yes", "yes", "strict")["score"] == 1.0


def test_mme_acc_plus():
    # Image 1: both right; image 2: one right -> acc 3/4, acc+ 1/2, score 125.
    recs = [
        {"prediction": "yes", "answer": "yes", "image": "1.png", "category": "existence"},
        {"prediction": "no", "answer": "no", "image": "1.png", "category": "existence"},
        {"prediction": "yes", "answer": "yes", "image": "2.png", "category": "existence"},
        {"prediction": "yes", "answer": "no", "image": "2.png", "category": "existence"},
    ]
    _, summary = score_records("mme", recs)
    assert summary["acc"] == 0.75 and summary["acc_plus"] == 0.5
    assert summary["subtasks"]["existence"]["score"] == 125.0
    assert summary["perception"] == 125.0
    assert "mme" in SCORERS.names()
