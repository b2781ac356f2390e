"""24 points: each card once, value 24, Python float semantics; nothing is ever executed."""

from __future__ import annotations

import pytest

from mmrft.rewards.puzzle_rules import RULES, check_24_points, judge_rule


def official(expression, cards):
    return RULES.get("judge_24points_function")(expression, None, {"init_cards": cards})


@pytest.mark.parametrize(
    "expression, cards",
    [
        ("(10-4)*(5-1)", [1, 4, 5, 10]),  # 6 * 4
        ("(5 - 1) * (10 - 4) = 24", [10, 5, 4, 1]),  # order of cards and spaces free
        ("3*8*1*1", [1, 1, 3, 8]),
        ("12 + 12", [12, 12]),
        ("(13 - 9) * 6 / 1", [1, 6, 9, 13]),
    ],
)
def test_right(expression, cards):
    assert official(expression, cards) is True
    assert check_24_points(expression, cards) is True


@pytest.mark.parametrize(
    "expression, cards",
    [
        ("(10-4)*(5-2)", [1, 4, 5, 10]),  # 18, and 2 is not a card
        ("(10-4)*4", [1, 4, 5, 10]),  # 24, but 4 twice (10, 4, 4) and 1, 5 unused
        ("10+10+4", [1, 4, 10, 10]),  # 24 without the 1
        ("(10-4)*(5-1)", [1, 4, 5, 9]),
        ("4*6 = 25", [4, 6, 1, 1]),  # the right side is ignored; 1, 1 unused
        ("", [1, 2, 3, 4]),
        ("23", [23]),
    ],
)
def test_wrong(expression, cards):
    assert (
        judge_rule("judge_24points_function", expression, None, {"init_cards": cards}).correct
        is False
    )
    assert check_24_points(expression, cards) is False


def test_official_float_semantics_and_exact_mode():
    # 8 / (3 - 8/3) is exactly 24 but 23.999999999999996 in floats, as the official eval has it.
    assert check_24_points("8/(3-8/3)", [3, 3, 8, 8]) is False
    assert check_24_points("8/(3-8/3)", [3, 3, 8, 8], exact=True) is True


def test_official_digit_run_quirk():
    # Official quirk: numbers are the digit runs of the text, so 1.5 reads as the cards 1 and 5.
    assert check_24_points("1.5*16", [1, 5, 16]) is True
    assert check_24_points("1.5*16", [15, 16]) is False


@pytest.mark.parametrize(
    "payload",
    [
        "__import__('os').system('touch {path}')",
        "open('{path}', 'w').write('x') or 24",
        "(lambda: __import__('pathlib').Path('{path}').touch())()",
        "[24][0]",
        "24 if 1 else 0",
        "9**9**9**9",
        "1/0",
        "2^3",
    ],
)
def test_refused_without_running(payload, tmp_path):
    path = tmp_path / "pwned"
    text = payload.format(path=path)
    assert check_24_points(text, [24]) is False
    verdict = judge_rule("judge_24points_function", text, None, {"init_cards": [24]})
    assert verdict.correct is False and verdict.reason.startswith("response:")
    assert not path.exists()


def test_malformed():
    assert check_24_points(None, [1, 2, 3, 4]) is False
    assert check_24_points("(10-4)*(5-1)", "1 4 5 10") is False
    assert check_24_points("(10-4)*(5-1)", None) is False
    verdict = judge_rule("judge_24points_function", "3*8", None, {"cards": [3, 8]})
    assert verdict.correct is False and "init_cards" in verdict.reason
