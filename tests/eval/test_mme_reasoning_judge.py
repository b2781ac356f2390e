"""MME-Reasoning with real judges: a tiny local model end to end, the endpoint client's errors,
and ``mmrft eval --benchmark mme-reasoning --judge``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from test_mme_reasoning_loader import ROWS, write_fixture

from mmrft.cli import main
from mmrft.eval.benchmarks import load_benchmark
from mmrft.eval.mme_reasoning import LocalJudge, OpenAIJudge, aggregate, make_judge
from mmrft.eval.scorers import SCORERS

ROWS_BY_ID = {str(r["index"]): r for r in ROWS}


@pytest.mark.slow  # building the tiny judge and ~6 generations: about 10 s on a busy CPU
def test_tiny_local_judge_end_to_end(tmp_path: Path):
    """An untrained judge writes no JSON: the JSON questions fail after five tries each,
    scored False and counted; the free-text ones take its first reply."""
    torch.manual_seed(0)  # the retries above temperature 0 sample
    judge = LocalJudge("tiny-qwen2", max_new_tokens=4)
    data = load_benchmark("mme-reasoning", write_fixture(tmp_path / "d"))
    keep = {"1", "15"}  # a choice, a sudoku grid
    scorer = SCORERS.get("mme_reasoning")(judge=judge)
    scored = []
    for s in data.samples:
        if s.id in keep:
            record = {**s.meta["record"], "prediction": ROWS_BY_ID[s.id]["response"]}
            scored.append({**record, **scorer.score(record, "official")})
    by_id = {str(r["index"]): r for r in scored}
    assert all(r["score"] == 0.0 for r in scored)
    assert by_id["1"]["judge_tries"] == 1  # free text: the first reply, as the official code
    assert by_id["15"]["judge_tries"] == 5
    assert by_id["15"]["failure"] == "judge_no_json"
    assert aggregate(scored)["failures"] == {"judge_no_json": 1}


def test_endpoint_judge_needs_a_url(monkeypatch):
    monkeypatch.delenv("MMRFT_JUDGE_URL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="MMRFT_JUDGE_URL"):
        make_judge("openai:gpt-4o")
    monkeypatch.setenv("MMRFT_JUDGE_URL", "http://127.0.0.1:9/v1/")
    judge = make_judge("openai:gpt-4o")
    assert isinstance(judge, OpenAIJudge)
    assert (judge.name, judge.base_url) == ("openai:gpt-4o", "http://127.0.0.1:9/v1")


def test_local_judge_is_loaded_on_first_use():
    judge = make_judge("no/such-judge")
    assert judge.name == "no/such-judge" and judge._judge is None  # nothing loaded yet


@pytest.mark.slow
def test_eval_cli_with_a_judge(tmp_path: Path, monkeypatch):
    import mmrft.eval.mme_reasoning.judge_client as judge_client

    monkeypatch.setattr(judge_client, "MAX_NEW_TOKENS", 4)  # an untrained judge: keep it short
    data = write_fixture(tmp_path / "d").parent
    out = tmp_path / "out"
    argv = ["eval", "tiny-qwen2.5-vl", "--benchmark", "mme-reasoning", "--data", str(data)]
    # two choice rows: one free-text extraction each, no retries
    argv += ["--judge", "tiny-qwen2", "--max-new-tokens", "3", "--limit", "2", "--out", str(out)]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["n_problems"] == 2 and results["skipped"]["count"] == 2
    for mode in ("official", "strict"):
        tables = results["overall"][mode]["scorer"]
        assert tables["n"] == 2
        assert set(tables) >= {"capability", "reasoning_type", "difficulty", "failures"}
    assert (out / "judge_cache.jsonl").is_file()
    html = (out / "report.html").read_text()
    assert "reasoning_type/inductive/acc" in html


def test_judge_flag_is_refused_for_other_benchmarks(tmp_path: Path, capsys):
    argv = ["eval", "tiny-qwen2.5-vl", "--benchmark", "mmrft-bench-v1", "--limit", "1"]
    assert main([*argv, "--judge", "tiny-qwen2", "--out", str(tmp_path / "o")]) != 0
    assert "--judge is for benchmarks scored by a judge LLM" in capsys.readouterr().err


def test_a_judge_that_cannot_load_is_tried_once_and_counted(tmp_path: Path, monkeypatch):
    """A judge path that does not exist: the first official score tries to load it, fails with
    a message naming the judge and the --judge options, and every later question fails at once
    with the same reason (no reload, no five retries each); strict scores are unaffected."""
    import mmrft.eval.mme_reasoning.judge_client as client

    loads = []
    real = client.LocalJudge

    def counting(*a, **k):
        loads.append(a)
        return real(*a, **k)

    monkeypatch.setattr(client, "LocalJudge", counting)
    scorer = SCORERS.get("mme_reasoning")(judge=make_judge(str(tmp_path / "no-judge")))
    data = load_benchmark("mme-reasoning", write_fixture(tmp_path / "d"))
    records = [
        {**s.meta["record"], "prediction": ROWS_BY_ID[s.id]["response"]} for s in data.samples
    ]
    official = [{**r, **scorer.score(r, "official")} for r in records]
    judged = [r for r in official if r.get("failure") == "judge_unavailable"]
    assert len(loads) == 1 and judged  # one load attempt for the whole run
    assert "could not be loaded" in judged[0]["detail"] and "--judge" in judged[0]["detail"]
    assert all(r["score"] == 0.0 for r in judged)
    strict = [scorer.score(r, "strict") for r in records]
    assert any(r["score"] == 1.0 for r in strict)
