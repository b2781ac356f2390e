"""judge_rule: official parsing of raw values, the registry of official ids, and no raising."""

from __future__ import annotations

import json

import pytest

from mmrft.registry import Registry
from mmrft.rewards.puzzle_rules import RULES, SPECIAL_INFO_RULES, RuleVerdict, judge_rule

OFFICIAL_IDS = {
    *(f"calculate_answer_function_{i}" for i in range(1, 13)),
    "match_answer_function",
    "multiple_match_function",
    "compare_expression_function",
    "match_coordinate_function",
    "choice_function",
    "calculate_answer_function_hashi",
    "calculate_answer_function_skyscraper",
    "calculate_answer_function_sudoku_4",
    "calculate_answer_function_sudoku_6",
    "calculate_answer_function_yinyang",
    "judge_24points_function",
}
"""The keys of the official ``functions`` table in function4eval.py."""

SUDOKU = [[1, 2, 3, 4], [3, 4, 1, 2], [2, 1, 4, 3], [4, 3, 2, 1]]


def test_registry_holds_exactly_the_official_ids():
    assert set(RULES.names()) == OFFICIAL_IDS
    assert SPECIAL_INFO_RULES <= OFFICIAL_IDS


def test_raw_strings_as_stored_by_the_benchmark():
    # response: the extraction's JSON; answer: a Python literal; special_info: a Python literal
    # with None (the official code evals it) or JSON with null.
    assert judge_rule("match_answer_function", '{"A": 5, "B": 1}', "{'A': 5, 'B': 1}").correct
    base = "[[1, None, None, None], [None, None, None, None], [None, None, None, None], [None, None, None, 1]]"
    info_py = "{'base_matrix': " + base + "}"
    info_json = json.dumps({"base_matrix": json.loads(base.replace("None", "null"))})
    for info in (info_py, info_json):
        verdict = judge_rule("calculate_answer_function_sudoku_4", json.dumps(SUDOKU), None, info)
        assert verdict == RuleVerdict(True, None)
    # the same, already parsed
    parsed = {"base_matrix": json.loads(info_json)["base_matrix"]}
    assert judge_rule("calculate_answer_function_sudoku_4", SUDOKU, None, parsed).correct
    # a JSON answer (null) is read too, where the official eval would crash
    assert (
        judge_rule("match_answer_function", '{"A": null}', '{"A": null, "B": [1]}').correct is False
    )
    assert judge_rule(
        "match_answer_function", '{"A": null, "B": [1]}', '{"A": null, "B": [1]}'
    ).correct
    # a plain wrong answer has no reason
    assert judge_rule("match_answer_function", {"A": 4}, {"A": 5}) == RuleVerdict(False, None)


def test_unknown_function_id():
    verdict = judge_rule("foo", "{}", None)
    assert verdict == RuleVerdict(False, "unknown function_id 'foo'")
    verdict = judge_rule("choice_functon", "A", "A")
    assert verdict.correct is False and "did you mean 'choice_function'" in verdict.reason
    assert judge_rule(None, "A", "A").correct is False
    assert "LLM" in judge_rule("open_function", "3", "3").reason


@pytest.mark.parametrize(
    "function_id, response, answer, special_info, reason",
    [
        ("calculate_answer_function_sudoku_4", json.dumps(SUDOKU), None, "{bad", "special_info: not valid JSON"),
        ("calculate_answer_function_sudoku_4", json.dumps(SUDOKU), None, None, "special_info: missing"),
        ("calculate_answer_function_hashi", "[{'start': 'a1'}]", None, {"init_islands": []}, "response: not valid JSON"),
        ("match_answer_function", "{}", "{'A': }", None, "answer: not a Python literal"),
        ("match_answer_function", '{"A": 1}', "__import__('os').system('x')", None, "answer: not a Python literal"),
        ("match_answer_function", "[1]", "{'A': 1}", None, "response: expected a JSON object"),
        ("calculate_answer_function_yinyang", "[[0]]", None, {"base_matrix": [[None] * 6] * 6}, "response: expected a 6x6 grid"),
    ],
)  # fmt: skip
def test_bad_input_gives_a_reason(function_id, response, answer, special_info, reason):
    verdict = judge_rule(function_id, response, answer, special_info)
    assert verdict.correct is False
    assert verdict.reason.startswith(reason)


def test_a_rule_that_raises_is_a_failed_verdict():
    rules = Registry("function_id")

    @rules.register("boom")
    def boom(response, answer, special_info):
        raise ZeroDivisionError("division by zero")

    @rules.register("maybe")
    def maybe(response, answer, special_info):
        return 1  # official: a non-bool result scores as a failure

    verdict = judge_rule("boom", "{}", None, rules=rules)
    assert verdict == RuleVerdict(False, "boom raised ZeroDivisionError: division by zero")
    assert judge_rule("maybe", "{}", None, rules=rules).reason == "maybe returned int, not bool"


def test_nothing_read_is_executed(tmp_path, monkeypatch):
    import os

    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(a) or 0)
    path = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {path}')"
    cases = [
        ("judge_24points_function", payload, None, {"init_cards": [1]}),
        ("choice_function", payload, payload, None),
        ("compare_expression_function", json.dumps({"equation": payload}), [payload], None),
        ("match_answer_function", "{}", payload, None),
        ("calculate_answer_function_hashi", "[]", None, payload),
    ]
    for function_id, response, answer, special_info in cases:
        verdict = judge_rule(function_id, response, answer, special_info)
        assert verdict.correct is False or function_id == "choice_function"
    # choice_function compares text only: the payload equals itself, and still nothing ran
    assert calls == [] and not path.exists()


@pytest.mark.parametrize("function_id", sorted(OFFICIAL_IDS))
@pytest.mark.parametrize("junk", [None, "", "null", "[]", "{}", "1", '"x"', "[[[]]]", "\x00"])
def test_judge_rule_never_raises(function_id, junk):
    verdict = judge_rule(function_id, junk, junk, junk)
    assert isinstance(verdict, RuleVerdict)
    assert verdict.correct in (True, False)
