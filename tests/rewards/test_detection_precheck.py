"""detection_confidence skips Visual-RFT's math-verify pre-check on purpose (documented deviation).

Visual-RFT's accuracy rewards (src/virft/src/open_r1/grpo.py) start with
``if float(verify(parse(content), parse(sol))) > 0: reward = 1.0`` on the whole completion and
solution, before reading any box. This test shows what that pre-check would pay and that mmrft,
which skips it, does not.
"""

from math_verify import parse, verify

from mmrft.data.sample import Sample
from mmrft.rewards.grounding import detection_confidence_accuracy

# Visual-RFT's solution format; math-verify reads the number 303 out of it.
SOLUTION = "<answer>[{'Position': [254, 303, 291, 365], 'Confidence': 1}]</answer>"
SAMPLE = Sample(id="x", prompt="", answer="[254, 303, 291, 365]", meta={"box_format": "abs"})
HACKS = [
    "303",  # no box at all
    "<answer>[{'Position': [0, 303, 5, 310], 'Confidence': 0.1}]</answer>",  # IoU 0 box
]


def test_visual_rft_precheck_would_pay_full_marks_for_a_shared_number():
    for completion in HACKS:
        assert verify(parse(completion), parse(SOLUTION))  # the pre-check: reward 1.0


def test_mmrft_scores_the_boxes_only():
    for completion in HACKS:
        out = detection_confidence_accuracy(completion, SAMPLE)
        assert out["accuracy"] == 0.0 and out["iou"] == 0.0
