"""ScreenSpot: SeeClick's pretrain/screenspot_test.py with process_utils.py's parsers.

Expected results derived by reading the official code:
* ``if 'box' in response``: ``extract_bbox`` = ``re.findall(r"<box>\\((\\d+,\\d+)\\),\\((\\d+,\\d+)\\)</box>")``,
  first match's two points, centre ``/ 1000``; no match -> IndexError -> "wrong format" (0).
* else ``pred_2_point``: ``re.findall(r'-?\\d+\\.?\\d*')``; 2 numbers = point, 4 = box centre,
  any other count leaves ``click_point`` unbound -> UnboundLocalError -> "wrong format" (0).
* gold ``[x, y, w, h]`` -> ``[x/W, y/H, (x+w)/W, (y+h)/H]``; inside with ``<=`` on both edges.
"""

import pytest

from mmrft.eval.scorers import score_record, score_records


def spot(prediction, mode="official", **fields):
    # Gold [x, y, w, h] = [100, 100, 100, 50] in a 1000 x 500 screenshot:
    # fractions [100/1000, 100/500, 200/1000, 150/500] = [0.1, 0.2, 0.2, 0.3].
    rec = {"prediction": prediction, "answer": [100, 100, 100, 50], "image_size": [1000, 500],
           **fields}  # fmt: skip
    return score_record("screenspot", rec, mode)


@pytest.mark.parametrize(
    ("prediction", "official", "strict"),
    [
        # 'box' in response and the tag matches: centre ((150+170)/2, (250+270)/2) = (160, 260),
        # / 1000 = (0.16, 0.26), inside [0.1, 0.2]-[0.2, 0.3].
        ("<box>(150,250),(170,270)</box>", 1.0, 1.0),
        # Only the first match is read (pred_bbox[0], pred_bbox[1]); the second is ignored.
        ("<box>(150,250),(170,270)</box> or <box>(0,0),(10,10)</box>", 1.0, 1.0),
        # A space breaks the official pattern -> no match -> IndexError -> wrong format.
        ("<box>(150, 250),(170, 270)</box>", 0.0, 1.0),
        # \d+ takes integers only: a decimal coordinate does not match either.
        ("<box>(150.0,250),(170,270)</box>", 0.0, 1.0),
        # "box" inside "inbox" sends the response down the extract_bbox branch: no tag -> 0.
        ("Tap the inbox icon at (0.15, 0.25)", 0.0, 1.0),
        # The check is case-sensitive: "Box" is not "box", so the 2 numbers are the point.
        ("Box: (0.15, 0.25)", 1.0, 1.0),
        # pred_2_point: exactly 2 numbers -> the point itself.
        ("(0.15,0.25)", 1.0, 1.0),
        # Exactly 4 numbers -> centre ((0.1+0.2)/2, (0.2+0.3)/2) = (0.15, 0.25).
        ("(0.1,0.2,0.2,0.3)", 1.0, 1.0),
        # 3 numbers ("2" of "2nd") -> click_point unbound -> wrong format; strict reads the
        # bracketed point.
        ("(0.15, 0.25), the 2nd button", 0.0, 1.0),
        # 6 numbers: neither 2 nor 4 -> wrong format (strict: the first bracketed point).
        ("(0.15,0.25); else (0.5,0.5); else (0.9,0.9)", 0.0, 1.0),
        # -?\d+\.?\d* needs a digit before the point: ".15" is read as 15 -> (15, 25), outside.
        ("(.15, .25)", 0.0, 0.0),
        # The leading minus is part of the number: x = -0.15 is left of the box.
        ("(-0.15, 0.25)", 0.0, 0.0),
        # Edges count: (0.2, 0.3) is the bottom-right corner, 0.2 <= 0.2 and 0.3 <= 0.3.
        ("(0.2, 0.3)", 1.0, 1.0),
        # No number at all -> 0 numbers -> wrong format.
        ("the settings icon", 0.0, 0.0),
    ],
)
def test_official_parsing_and_what_it_rejects(prediction, official, strict):
    assert spot(prediction)["score"] == official
    assert spot(prediction, "strict")["score"] == strict


def test_wrong_format_is_flagged_and_qwen_box_reports_its_fraction_point():
    assert spot("<box>(150, 250),(170, 270)</box>")["flags"] == ["unparsed"]
    out = spot("<box>(150,250),(170,270)</box>")
    assert out["extracted"] == [0.16, 0.26] and out["flags"] == ["qwen_box"]


def test_box_branch_ignores_box_format():
    # The official code divides a <box> centre by 1000 whatever the model; mmrft's box_format
    # only converts the number branch (a pixel model's "(150, 125)" -> 150/1000, 125/500).
    assert spot("<box>(150,250),(170,270)</box>", box_format="pixel")["score"] == 1.0
    assert spot("(150, 125)", box_format="pixel")["score"] == 1.0
    assert spot("(150, 250)", box_format="norm_1000")["score"] == 1.0
    assert spot("(150, 250)")["score"] == 0.0  # norm_1 (SeeClick): 150 is far outside


def test_edges_compared_in_fractions_like_the_official_code():
    # Gold [2, 2, 5, 5] in 25 x 25 -> right edge (2+5)/25 = 0.28 (the float 7/25 == 0.28).
    # Official: 0.28 <= 7/25 -> inside. Scaling the point to pixels instead gives
    # 0.28 * 25 = 7.000000000000001 > 7 -> outside: the comparison must stay in fractions.
    rec = {"prediction": "(0.28, 0.2)", "answer": [2, 2, 5, 5], "image_size": [25, 25]}
    assert score_record("screenspot", rec)["score"] == 1.0


def test_answer_region_is_read_first():
    # mmrft's extraction rule (docs/eval.md) runs before the official parsing: the <think>
    # block's "3" is not counted, so 2 numbers remain.
    assert spot("<think>3 icons look alike</think>(0.15, 0.25)")["score"] == 1.0
    assert spot("<think>x</think><answer><box>(150,250),(170,270)</box></answer>")["score"] == 1.0


def test_aggregate_reports_text_and_icon_accuracy():
    base = {"answer": [100, 100, 100, 50], "image_size": [1000, 500]}
    records = [
        {**base, "prediction": "(0.15, 0.25)", "data_type": "text"},
        {**base, "prediction": "(0.9, 0.9)", "data_type": "text"},
        {**base, "prediction": "(0.15, 0.25)", "data_type": "icon"},
    ]
    _, summary = score_records("screenspot", records)
    # Official: text 1 of 2, icon (every non-"text" type) 1 of 1.
    assert summary["text_acc"] == 0.5 and summary["icon_acc"] == 1.0
    assert summary["mean"] == pytest.approx(2 / 3)
