"""MME-Reasoning scoring: judge JSON parsing, the retry schedule, the cache, both modes, tables.

The fixture rows (``test_mme_reasoning_loader.ROWS``) carry what a careful judge extracts and
the hand-worked expected scores; ``ScriptedJudge`` plays that judge (it finds the row by the
``Qnn:`` marker in the prompt) and counts its calls.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_mme_reasoning_loader import GOOD, ROWS, question, write_fixture

from mmrft.eval.benchmarks import load_benchmark
from mmrft.eval.mme_reasoning import JudgeCache, aggregate, extract, route
from mmrft.eval.mme_reasoning.extract import schedule, verdict
from mmrft.eval.mme_reasoning.parse import read_judge_json, strict_extract
from mmrft.eval.scorers import SCORERS

_ROW = re.compile(r"Q(\d\d):")


class ScriptedJudge:
    """Replies from the fixture: ``extract`` for an extraction prompt, ``verdict`` for the
    consistency prompt (the row found by its ``Qnn:`` marker, or its response). ``lenient``: every verdict is 1. ``json_from``: JSON prompts get prose
    below this temperature (so the retries are exercised)."""

    name = "scripted"

    def __init__(self, lenient: bool = False, json_from: float = 0.0) -> None:
        self.by_index = {r["index"]: r for r in ROWS}
        self.lenient, self.json_from = lenient, json_from
        self.calls: list[tuple[int, str, float]] = []

    def generate(self, prompt: str, temperature: float) -> str:
        marker = _ROW.search(prompt)  # the grid and hashi prompts do not show the question
        if marker is not None:
            index = int(marker.group(1))
        else:  # then the row whose response is in the prompt (the longest such)
            hits = [r for r in ROWS if r["response"] and r["response"] in prompt]
            index = max(hits, key=lambda r: len(r["response"]))["index"]
        row = self.by_index[index]
        kind = "verdict" if "Standard answer:" in prompt else "extract"
        self.calls.append((index, kind, temperature))
        if kind == "verdict":
            return "1" if self.lenient else row["verdict"]
        prompt_id, _ = route(row)
        if temperature < self.json_from and prompt_id not in (
            "choice_prompt",
            "open_question_prompt",
            "points24_prompt",
        ):
            return "The answer is given above."
        return row["extract"]


def records(folder: Path) -> list[dict[str, Any]]:
    data = load_benchmark("mme-reasoning", folder)
    return [{**s.meta["record"], "prediction": ROWS_BY_ID[s.id]["response"]} for s in data.samples]


ROWS_BY_ID = {str(r["index"]): r for r in ROWS}


@pytest.fixture()
def fixture_records(tmp_path: Path) -> list[dict[str, Any]]:
    return records(write_fixture(tmp_path / "data").parent)


def score_all(recs, mode, judge=None, cache=None):
    scorer = SCORERS.get("mme_reasoning")(judge=judge, cache=cache)
    return [{**r, **scorer.score(r, mode)} for r in recs]


# --------------------------------------------------------------------------- judge JSON


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"A": 5}', '{"A": 5}'),  # bare
        ('Sure.\n```json\n{"A": 5}\n```', '{"A": 5}'),
        ('```\n[{"row": "B", "column": 2}]\n```', '[{"row": "B", "column": 2}]'),
        ("Here:\n```JSON\n[[1, 2], [2, 1]]\n```", "[[1, 2], [2, 1]]"),
        ("A is 5, B is 1", None),  # prose
        ("```json\n{A: 5}\n```", None),  # a fence around something that is not JSON
    ],
)
def test_read_judge_json(reply, expected):
    assert read_judge_json(reply) == expected


class Junk:
    name = "junk"

    def __init__(self, good_at: float | None = None, reply: str = '{"A": 1}') -> None:
        self.temperatures: list[float] = []
        self.good_at, self.reply = good_at, reply

    def generate(self, prompt: str, temperature: float) -> str:
        self.temperatures.append(temperature)
        if self.good_at is not None and temperature >= self.good_at:
            return self.reply
        return "I think A is one."


def test_retry_schedule_five_tries_temperature_plus_half():
    judge = Junk()
    got = extract(judge, "id_answer_pair_prompt", "Q", "A: 1")
    assert got.value is None and got.tries == 5
    assert judge.temperatures == [0.0, 0.5, 1.0, 1.5, 2.0] == schedule()


def test_retry_stops_at_the_first_json():
    judge = Junk(good_at=1.0)
    got = extract(judge, "id_answer_pair_prompt", "Q", "A: 1")
    assert (got.value, got.tries, judge.temperatures) == ('{"A": 1}', 3, [0.0, 0.5, 1.0])


def test_free_text_prompt_takes_the_first_reply():
    judge = Junk()
    got = extract(judge, "choice_prompt", "Q", "B")
    assert (got.value, got.tries) == ("I think A is one.", 1)


def test_a_raising_judge_is_a_failed_try():
    class Flaky(Junk):
        def generate(self, prompt, temperature):
            self.temperatures.append(temperature)
            if temperature < 1.0:
                raise TimeoutError("endpoint busy")
            return "1"

    judge = Flaky()
    got = verdict(judge, "Q", "3", "3")
    assert (got.value, got.tries) == ("1", 3)


def test_verdict_needs_exactly_zero_or_one():
    judge = Junk(good_at=0.5, reply=" 0\n")
    assert verdict(judge, "Q", "3", "4").value == "0"
    assert verdict(Junk(), "Q", "3", "4").value is None  # five tries of prose


# --------------------------------------------------------------------------- both modes


def test_official_mode_with_a_careful_judge(fixture_records):
    scored = score_all(fixture_records, "official", ScriptedJudge())
    for r in scored:
        row = ROWS_BY_ID[str(r["index"])]
        assert r["score"] == row["official"], (r["index"], r)
        assert r.get("failure") == row.get("failure"), r["index"]


def test_strict_mode_needs_no_judge(fixture_records):
    scored = score_all(fixture_records, "strict", judge=None)
    for r in scored:
        row = ROWS_BY_ID[str(r["index"])]
        assert r["score"] == row["strict"], (r["index"], r)
        assert r.get("failure") == row.get("strict_failure"), r["index"]


def test_official_and_strict_disagree_where_worked_out(fixture_records):
    official = score_all(fixture_records, "official", ScriptedJudge())
    strict = score_all(fixture_records, "strict")
    differ = [o["index"] for o, s in zip(official, strict, strict=True) if o["score"] != s["score"]]
    # 4: a letter only the judge infers; 6: 1.414 vs \sqrt{2}; 10: "box 1 holds C";
    # 12: "A and C" with no letter list; all four: official right, strict wrong
    assert differ == ["4", "6", "10", "12"]


def test_lenient_judge_and_late_json_change_only_what_they_should(fixture_records):
    careful = score_all(fixture_records, "official", ScriptedJudge())
    judge = ScriptedJudge(lenient=True, json_from=1.0)
    lenient = score_all(fixture_records, "official", judge)
    changed = [
        c["index"] for c, g in zip(careful, lenient, strict=True) if c["score"] != g["score"]
    ]
    assert changed == ["7"]  # the one open question the careful judge marks 0
    # JSON prompts were asked at 0, 0.5 and answered at 1.0: three tries each
    tries = {r["index"]: r.get("judge_tries") for r in lenient}
    assert tries["9"] == 3 and tries["1"] == 1
    # the never-JSON row still fails after five tries at 0 .. 2.0
    row22 = [(t) for i, k, t in judge.calls if i == 22]
    assert row22 == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_no_judge_counts_every_line_as_a_failure(fixture_records):
    scored = score_all(fixture_records[:3], "official", judge=None)
    assert [r["failure"] for r in scored] == ["no_judge"] * 3
    assert aggregate(scored)["failures"] == {"no_judge": 3}


# --------------------------------------------------------------------------- cache


def test_cache_resumes_without_asking_again(fixture_records, tmp_path):
    path = tmp_path / "judge_cache.jsonl"
    first_judge = ScriptedJudge()
    first = score_all(fixture_records, "official", first_judge, JudgeCache(path))
    assert len(first_judge.calls) > len(fixture_records)  # extraction + open verdicts + retries
    again = ScriptedJudge()
    second = score_all(fixture_records, "official", again, JudgeCache(path))
    assert again.calls == []
    assert [r["score"] for r in second] == [r["score"] for r in first]
    # a changed response is a new question for the judge
    changed = [{**fixture_records[0], "prediction": "Answer: C"}]
    third = ScriptedJudge()
    score_all(changed, "official", third, JudgeCache(path))
    assert [c[1] for c in third.calls] == ["extract"]


# --------------------------------------------------------------------------- tables


def test_tables_by_hand():
    recs = [
        {"score": 1.0, "capability": "calculation", "reasoning_type": "deductive",
         "difficulty": "easy"},
        {"score": 0.0, "capability": "calculation, pattern analysis",
         "reasoning_type": "inductive", "difficulty": "hard", "failure": "judge_no_json"},
        {"score": 1.0, "capability": ["pattern analysis"], "reasoning_type": "inductive",
         "difficulty": "hard"},
        {"score": 0.0, "capability": "casual chaining analysis", "reasoning_type": "abductive",
         "difficulty": "Hard"},
    ]  # fmt: skip
    t = aggregate(recs)
    assert t["overall"] == 0.5 and t["n"] == 4
    # calculation: rows 1, 2 -> 1/2; pattern analysis: rows 2, 3 (list field) -> 1/2
    assert t["capability"]["calculation"] == {"n": 2, "acc": 0.5}
    assert t["capability"]["pattern analysis"] == {"n": 2, "acc": 0.5}
    # the official misspelling still lands in the causal group
    assert t["capability"]["causal chaining analysis"] == {"n": 1, "acc": 0.0}
    assert "spatial-temporal" not in t["capability"]  # no rows: left out, not NaN
    assert t["reasoning_type"] == {
        "inductive": {"n": 2, "acc": 0.5},
        "deductive": {"n": 1, "acc": 1.0},
        "abductive": {"n": 1, "acc": 0.0},
    }
    # difficulty: "Hard" and "hard" are one level; rows 2, 3, 4 -> 1/3
    assert t["difficulty"] == {"easy": {"n": 1, "acc": 1.0}, "hard": {"n": 3, "acc": 1 / 3}}
    assert t["failures"] == {"judge_no_json": 1}


def test_fixture_tables_match_the_hand_worked_scores(fixture_records):
    t = aggregate(score_all(fixture_records, "official", ScriptedJudge()))
    # 26 loaded rows; official 0s: rows 3, 7, 16, 20, 21, 22 -> 20 / 26
    assert t["n"] == 26 and t["overall"] == 20 / 26
    # deductive rows: 2 5 6 8 9 11 15 16 17 18 19 21 27 28 -> wrong: 16, 21 -> 12 / 14
    assert t["reasoning_type"]["deductive"] == {"n": 14, "acc": 12 / 14}
    # abductive: 3 7 10 12 22 -> right: 10, 12
    assert t["reasoning_type"]["abductive"] == {"n": 5, "acc": 2 / 5}
    # spatial-temporal: 3, 4 (two capabilities), 11, 18 -> 3 / 4
    assert t["capability"]["spatial-temporal"] == {"n": 4, "acc": 3 / 4}
    assert t["failures"] == {
        "invalid_special_info": 1,
        "judge_no_json": 1,
        "unknown_function_id": 1,
    }


def test_strict_extractors_by_prompt():
    assert strict_extract("coordinate_answer_prompt", "It is (B, 2) then (C, 3).") == [
        {"row": "B", "column": 2},
        {"row": "C", "column": 3},
    ]
    assert strict_extract("sudoku_4_extraction_prompt", "no grid here") is None
    assert strict_extract("points24_prompt", "So (K - 9 - A) × 8 = 24.") == "(13-9-1)*8=24"
    assert strict_extract("formula_extraction_prompt", "It becomes 6 - 2 = 4") == {
        "equation": "6-2=4"
    }
    assert question({"index": 3}) == "Q03: solve the puzzle shown."
    assert len(GOOD) == 26


def test_prompts_cover_the_official_ids():
    from mmrft.eval.mme_reasoning.prompts import EXTRACTION_PROMPTS, FREE_TEXT_PROMPTS

    official = {  # prompts4eval.py's keys
        "id_answer_pair_prompt", "id_answer_pair_prompt_reverse", "coordinate_answer_prompt",
        "multiple_answer_prompt", "formula_extraction_prompt", "choice_prompt",
        "open_question_prompt", "hashi_extraction_prompt", "skyscraper_extraction_prompt",
        "sudoku_4_extraction_prompt", "sudoku_6_extraction_prompt",
        "yinyang_extraction_prompt", "points24_prompt",
    }  # fmt: skip
    assert set(EXTRACTION_PROMPTS) == official
    assert all("{response}" in p for p in EXTRACTION_PROMPTS.values())
    assert {"choice_prompt", "open_question_prompt", "points24_prompt"} == FREE_TEXT_PROMPTS
    assert {r.get("prompt_id") or route(r)[0] for r in GOOD} == official  # the fixture: all


@pytest.mark.parametrize(
    ("row", "detail"),
    [
        ({"question_type": "fill-in", "function_id": None}, "needs a function_id"),
        ({"question_type": "open", "function_id": "match_answer_function"}, "without a prompt_id"),
        ({"question_type": "open", "function_id": "x", "prompt_id": "nope"}, "unknown prompt_id"),
    ],
)
def test_unroutable_rows_fail_with_a_reason(row, detail):
    record = {**row, "answer": "A", "prediction": "A", "index": 1}
    for mode in ("official", "strict"):
        got = SCORERS.get("mme_reasoning")(judge=ScriptedJudge()).score(record, mode)
        assert got["score"] == 0.0 and got["failure"] == "bad_route"
        assert detail in got["detail"]
