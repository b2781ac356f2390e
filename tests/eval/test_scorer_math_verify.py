"""math_verify: a free-form answer judged by math-verify alone, usable by ``mmrft score``.

Expected results follow math-verify's documented behaviour (``parse`` then
``verify(gold, answer)``): numeric and symbolic equivalence, ``\\boxed`` first, and, unwrapped,
the last number of a plain-text answer.
"""

import argparse
import io
import json

import pytest

from mmrft.eval.score_cli import cmd_score
from mmrft.eval.scorers import MalformedRecord, score_record


def mv(prediction, answer, mode="official"):
    return score_record("math_verify", {"prediction": prediction, "answer": answer}, mode)


@pytest.mark.parametrize("mode", ["official", "strict"])
@pytest.mark.parametrize(
    ("prediction", "answer", "expected"),
    [
        ("<answer>0.75</answer>", r"\frac{3}{4}", 1.0),  # 3/4 == 0.75
        (r"so the area is \boxed{\frac{3}{4}}", "0.75", 1.0),  # the last \boxed
        ("<answer>$2\\sqrt{2}$</answer>", "\\sqrt{8}", 1.0),  # symbolic: sqrt(8) = 2 sqrt(2)
        ("<answer>0.76</answer>", r"\frac{3}{4}", 0.0),  # 0.76 != 0.75
        # The <answer> block is judged, not the reasoning before it.
        ("<think>it might be 12</think><answer>13</answer>", "12", 0.0),
        ("", "3", 0.0),  # nothing to read
        (r"\boxed{x=2}", "2", 1.0),  # an equation's right-hand side is its value
    ],
)
def test_equivalence(prediction, answer, expected, mode):
    assert mv(prediction, answer, mode)["score"] == expected


def test_numbers_as_gold_and_bad_gold():
    assert mv("<answer>7</answer>", 7)["score"] == 1.0
    with pytest.raises(MalformedRecord):
        mv("7", None)
    with pytest.raises(MalformedRecord):
        mv("7", "  ")


def test_official_quirks_that_strict_fixes():
    # Unwrapped plain text: math-verify takes the last number, so a hedge "1, 2, 3, 4" is 4.
    # Strict wraps it in $...$: the set {1, 2, 3, 4} != 4.
    assert mv("<answer>1, 2, 3, 4</answer>", "4")["score"] == 1.0
    assert mv("<answer>1, 2, 3, 4</answer>", "4", "strict")["score"] == 0.0
    # "50\%" outside math mode is not read as a percentage by the default extraction;
    # wrapped it is 50/100 = 0.5.
    assert mv(r"<answer>50\%</answer>", "0.5")["score"] == 0.0
    assert mv(r"<answer>50\%</answer>", "0.5", "strict")["score"] == 1.0
    # Outside math mode "2\sqrt{2}" is read as its number 2, not as 2 sqrt(2) = sqrt(8).
    assert mv(r"<answer>2\sqrt{2}</answer>", r"\sqrt{8}")["score"] == 0.0
    assert mv(r"<answer>2\sqrt{2}</answer>", r"\sqrt{8}", "strict")["score"] == 1.0


def test_gold_is_read_in_math_mode():
    # Bare, math-verify's parse finds nothing in the gold "\sqrt{8}" (every answer would be
    # wrong); the scorer wraps the gold alone in $...$.
    from math_verify import parse

    assert parse(r"\sqrt{8}") == []
    assert mv(r"<answer>$\sqrt{8}$</answer>", r"\sqrt{8}")["score"] == 1.0


def test_extracted_is_what_math_verify_read():
    assert mv(r"so \boxed{0.75}", "0.75")["extracted"] == "0.75"
    assert mv("no digits at all", "3")["flags"] == ["unparsed"]


def test_usable_by_mmrft_score(tmp_path):
    path = tmp_path / "preds.jsonl"
    recs = [{"prediction": r"\boxed{\frac{1}{2}}", "answer": "0.5"},
            {"prediction": "<answer>3</answer>", "answer": "4"}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    out, err = io.StringIO(), io.StringIO()
    args = argparse.Namespace(scorer="math_verify", file=str(path), out=None, mode="official")
    assert cmd_score(args, stdout=out, stderr=err) == 0
    summary = json.loads(out.getvalue())
    assert summary["scorer"] == "math_verify" and summary["n"] == 2 and summary["mean"] == 0.5
