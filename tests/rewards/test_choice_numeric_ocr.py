"""Multiple choice, numeric tolerance, exact match, OCR edit distance and ANLS."""

import random

import pytest

from mmrft.data.sample import Sample
from mmrft.rewards import REWARDS, anls_score, levenshtein, parse_choice, parse_number

OPTIONS = ["cat", "dog", "bird", "fish"]


@pytest.mark.parametrize(
    "text, letter",
    [
        ("B", "B"),
        ("(B)", "B"),
        ("b.", "B"),
        ("B)", "B"),
        ("The answer is B.", "B"),
        ("Answer: (B)", "B"),
        ("the correct option is (B) dog", "B"),
        ("Dog", "B"),  # the option's text
        ("dog.", "B"),
        # hack resistance: several letters, contradictions, mentions
        ("A B C D", None),
        ("ABCD", None),
        ("A, B", None),
        ("A or B", None),
        ("(A)(B)", None),
        ("(B) cat", None),  # letter and text disagree
        ("I think it is B", None),
        ("E", None),  # not an option
        ("cat dog", None),
        ("", None),
        (None, None),
        ("\x00(", None),
    ],
)
def test_parse_choice(text, letter):
    assert parse_choice(text, OPTIONS) == letter


def test_choice_reward_with_dict_options_and_text_gold():
    s = Sample(id="c", prompt="", answer="dog", meta={"options": {"A": "cat", "B": "dog"}})
    completions = ["<answer>B</answer>", "<answer>A</answer>", "<answer>A B</answer>", "B"]
    assert REWARDS.get("choice")(completions, [s] * 4)["overall"] == [
        1.0,
        pytest.approx(0.1),
        pytest.approx(0.1),
        0.0,
    ]


def test_choice_rejects_a_gold_outside_the_options():
    s = Sample(id="c", prompt="", answer="E", meta={"options": OPTIONS})
    with pytest.raises(ValueError, match="not one of the options"):
        REWARDS.get("choice")(["<answer>A</answer>"], [s])


@pytest.mark.parametrize(
    "answer, gold, exact, relaxed",
    [
        ("1,234.5", "1234.5", 1, 1),
        ("1234.50", "1234.5", 1, 1),
        ("0.75", "3/4", 1, 1),
        ("103", "100", 0, 1),  # within ChartQA's 5 %
        ("106", "100", 0, 0),
        ("-0.5", "0.5", 0, 0),
        ("50%", "50", 1, 1),
        ("1 2 3", "2", 0, 0),  # hedging
        ("2 or 3", "2", 0, 0),
        ("", "2", 0, 0),
        ("two", "2", 0, 0),
        ("9" * 500, "2", 0, 0),
    ],
)
def test_numeric_rewards(answer, gold, exact, relaxed):
    s = Sample(id="n", prompt="", answer=gold)
    completion = [f"<answer>{answer}</answer>"]
    assert REWARDS.get("numeric")(completion, [s])["accuracy"] == [exact]
    assert REWARDS.get("numeric_relaxed")(completion, [s])["accuracy"] == [relaxed]


def test_numeric_tolerance_from_meta():
    s = Sample(id="n", prompt="", answer="10", meta={"abs_tol": 0.5})
    scores = REWARDS.get("numeric")(["<answer>10.4</answer>", "<answer>10.6</answer>"], [s, s])
    assert scores["accuracy"] == [1.0, 0.0]
    assert parse_number("1e999") is None and parse_number("1/0") is None


def test_exact_match():
    s = Sample(id="e", prompt="", answer="The Eiffel Tower", meta={"answers": ["Tour Eiffel"]})
    completions = [f"<answer>{a}</answer>" for a in ["eiffel tower!", "tour eiffel", "tower", ""]]
    assert REWARDS.get("exact_match")(completions, [s] * 4)["accuracy"] == [1, 1, 0, 0]


def _dp_levenshtein(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def test_bit_parallel_levenshtein_equals_the_dynamic_programme():
    rng = random.Random(0)
    for _ in range(500):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 40)))
        b = "".join(rng.choice("abcd") for _ in range(rng.randint(0, 40)))
        assert levenshtein(a, b) == _dp_levenshtein(a, b), (a, b)
    assert levenshtein("a" * 5000, "b" * 20000) == 20000  # long inputs stay fast


@pytest.mark.parametrize(
    "pred, golds, score",
    [
        ("hello world", ["Hello World"], 1.0),  # case and spacing are normalised
        ("  hello   world ", ["hello world"], 1.0),
        ("hellp", ["hello"], 0.8),  # 1 edit / 5 chars
        ("abcd", ["abef"], 0.5),  # NL = 0.5 exactly: kept (official rule: zero only below 0.5)
        ("abcde", ["abxyz"], 0.0),  # NL = 0.6 -> 0
        ("Paris", ["London", "paris"], 1.0),  # best of the accepted answers
        ("", ["hello"], 0.0),
        ("hello " * 50, ["hello"], 0.0),  # answer buried in a repeated string
    ],
)
def test_anls(pred, golds, score):
    assert anls_score(pred, golds) == pytest.approx(score)


def test_ocr_reward_is_one_minus_normalised_edit_distance():
    s = Sample(id="o", prompt="", answer="STOP")
    completions = ["<answer>STOP</answer>", "<answer>stop</answer>", "<answer>STOP STOP</answer>"]
    assert REWARDS.get("ocr")(completions, [s] * 3)["accuracy"] == [1.0, 0.0, 4 / 9]
