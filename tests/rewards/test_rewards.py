"""Rewards against hand-made completions with known scores, and the safe_reward fallback."""

import doctest
import logging

import pytest

import mmrft.rewards.base
import mmrft.rewards.counting
import mmrft.rewards.format
from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS, extract_answer, parse_count, safe_reward

THREE = Sample(id="s3", prompt="How many shapes are in the image?", answer="3")

# (completion, format, accuracy) for a sample whose answer is 3;
# count overall = 0.9 * accuracy + 0.1 * format.
CASES = [
    ("<answer>3</answer>", 1, 1),
    ("<think>one, two, three</think><answer>3</answer>", 1, 1),
    ("<think></think><answer>3</answer>", 1, 1),
    ("  <think>\nx\n</think>\n\n<answer> 3 </answer>\n", 1, 1),
    ("<answer>3.</answer>", 1, 1),
    ("<answer>4</answer>", 1, 0),  # wrong number
    ("3", 0, 0),  # no tags
    ("The answer is 3.", 0, 0),
    ("<answer>3", 0, 0),  # unterminated
    ("<think>3</think>", 0, 0),  # no answer block
    ("<answer>2</answer><answer>3</answer>", 0, 1),  # repeated: last counts, format fails
    ("<answer>3</answer><answer>4</answer>", 0, 0),
    ("<answer>3</answer><answer>4", 0, 0),  # trailing unterminated block: no answer
    ("", 0, 0),
    ("   ", 0, 0),
    ("<answer></answer>", 0, 0),  # empty answer
    ("<answer>  </answer>", 0, 0),
    ("<answer>1 2 3 4 5</answer>", 1, 0),  # hedging by listing
    ("<answer>three</answer>", 1, 0),  # digits only
    ("<answer>3.0</answer>", 1, 0),
    ("<answer>-3</answer>", 1, 0),
    ("<answer>" + "3" * 5000 + "</answer>", 1, 0),  # huge number: wrong, no crash
    ("<think>x</think> hello <answer>3</answer>", 0, 1),  # text between blocks
    ("<answer>3</answer> thanks!", 0, 1),  # text after
    ("<think><answer>3</answer></think>", 0, 1),  # nested in think: format fails
    ("<think>a</think><think>b</think><answer>3</answer>", 0, 1),  # two think blocks
    ("<answer><answer>3</answer></answer>", 0, 1),  # nested answer
    ("<ANSWER>3</ANSWER>", 0, 0),  # tags are case-sensitive
    ("\x00\ufffd<<answer>>3</answer>", 0, 0),  # garbage
]


@pytest.mark.parametrize("completion, fmt, acc", CASES)
def test_count_reward_known_scores(completion, fmt, acc):
    scores = REWARDS.get("count")([completion], [THREE])
    assert scores["format"] == [fmt]
    assert scores["accuracy"] == [acc]
    assert scores["overall"] == [pytest.approx(0.9 * acc + 0.1 * fmt)]


@pytest.mark.parametrize("completion, fmt, _", CASES)
def test_format_reward_known_scores(completion, fmt, _):
    assert REWARDS.get("format")([completion], [THREE]) == {"overall": [fmt], "format": [fmt]}


def test_correct_beats_any_wrong():
    # 0.9 * 1 + 0.1 * 0 = 0.9 for a sloppy correct answer > 0.9 * 0 + 0.1 * 1 = 0.1 for a tidy wrong one.
    sloppy, tidy = REWARDS.get("count")(
        ["3 <answer>3</answer>", "<answer>4</answer>"], [THREE] * 2
    )["overall"]
    assert sloppy > tidy


def test_batch_scores_each_sample_against_its_own_answer():
    samples = [Sample(id=str(n), prompt="", answer=str(n)) for n in (1, 2, 3)]
    completions = ["<answer>1</answer>", "<answer>3</answer>", "<answer>3</answer>"]
    assert REWARDS.get("count")(completions, samples)["accuracy"] == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("<answer>a</answer> <answer> b </answer>", "b"),
        ("<answer>a</answer><answer>b", None),
        ("no tags", None),
        ("</answer><answer>", None),
        ("<answer>\nmulti\nline\n</answer>", "multi\nline"),
    ],
)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


def test_parse_count():
    assert [parse_count(t) for t in ["0", "007", " 12. ", "1,000", "1e3", "", None]] == [
        0,
        7,
        12,
        None,
        None,
        None,
        None,
    ]


def test_safe_reward_passes_good_batches_through():
    scores, failed = safe_reward(REWARDS.get("count"), ["<answer>3</answer>"], [THREE])
    assert failed == 0 and scores == {"overall": [1.0], "format": [1.0], "accuracy": [1.0]}


def test_safe_reward_zeroes_failing_completions(caplog):
    bad = Sample(id="bad-answer", prompt="", answer="not a number")  # int() raises
    samples = [THREE, bad, THREE, bad]
    completions = ["<answer>3</answer>", "<answer>3</answer>", "<answer>2</answer>", "x"]
    with caplog.at_level(logging.WARNING, logger="mmrft.rewards.base"):
        scores, failed = safe_reward(REWARDS.get("count"), completions, samples)
    assert failed == 2
    assert scores == {
        "overall": [1.0, 0.0, pytest.approx(0.1), 0.0],
        "accuracy": [1.0, 0.0, 0.0, 0.0],
        "format": [1.0, 0.0, 1.0, 0.0],
    }
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2 and all("bad-answer" in w for w in warnings)


def test_safe_reward_rejects_malformed_output():
    # A broken contract is the reward's bug, not one completion's: an error naming the reward
    # (issue #14; these used to score 0 per completion, and a single value for a batch of one).
    def no_overall(completions, samples):
        return {"accuracy": [1.0] * len(completions)}

    def wrong_length(completions, samples):
        return {"overall": [1.0, 1.0]}

    with pytest.raises(ValueError, match="'no_overall' must return a dict with an 'overall'"):
        safe_reward(no_overall, ["a", "b"], [THREE] * 2)
    with pytest.raises(ValueError, match="'wrong_length' returned 2 values of 'overall' for 3"):
        safe_reward(wrong_length, ["a", "b", "c"], [THREE] * 3)


@pytest.mark.parametrize(
    "module", [mmrft.rewards.base, mmrft.rewards.format, mmrft.rewards.counting]
)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted and not result.failed
