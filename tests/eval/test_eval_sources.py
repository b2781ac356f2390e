"""Eval sources: standard-format datasets routed to their tasks' rewards; task problems."""

from __future__ import annotations

import dataclasses

import pytest

from mmrft.data.jsonl import write_jsonl
from mmrft.eval.sources import from_dataset, from_task
from mmrft.report.html import write_eval_report
from mmrft.tasks import TASKS


def test_dataset_rows_are_scored_by_their_own_task(tmp_path):
    count = TASKS.get("count")().dataset(2, seed=5, level=1)
    clock = TASKS.get("clock")().dataset(1, seed=5, level=1)
    path = write_jsonl([*count, *clock], tmp_path / "mixed.jsonl")
    with path.open("a") as f:
        f.write('{"id": "broken"}\n')
    source = from_dataset(path)
    assert [s.task for s in source.samples] == ["count", "count", "clock"]
    assert len(source.skipped) == 1 and source.skipped[0][0] == "line 4"
    assert "missing field 'prompt'" in source.skipped[0][1]
    gold = [f"<answer>{s.answer}</answer>" for s in source.samples]
    results, failed = source.score_fn.score(gold, source.samples)
    assert failed == 0 and [r["score"] for r in results] == [1.0, 1.0, 1.0]
    assert [r["extracted"] for r in results] == [s.answer for s in source.samples]
    assert from_dataset(path, limit=1).samples[0].id == count[0].id


def test_dataset_with_unregistered_task_needs_task_flag(tmp_path):
    sample = dataclasses.replace(TASKS.get("count")().generate(1, 1), task="my-vqa")
    path = write_jsonl([sample], tmp_path / "foreign.jsonl")
    with pytest.raises(ValueError, match=r"\['my-vqa'\].*--task"):
        from_dataset(path)
    source = from_dataset(path, task="count")  # the count reward for every row
    results, _ = source.score_fn.score([f"<answer>{sample.answer}</answer>"], source.samples)
    assert results[0]["score"] == 1.0


def test_task_problems_carry_their_category():
    source = from_task(TASKS.get("count")(), n=3, seed=1_000_000, level=2)
    assert source.name == "count-L2" and len(source.samples) == 3
    assert {s.meta["category"] for s in source.samples} == {"count/L2"}
    with pytest.raises(ValueError, match="levels"):
        from_task(TASKS.get("count")(), n=1, seed=0, level=9)


def test_eval_report_without_results_is_a_note(tmp_path):
    page = write_eval_report(tmp_path).read_text()
    assert "No results.json" in page and "Traceback" not in page
    (tmp_path / "results.json").write_text("{not json")
    assert "not valid JSON" in write_eval_report(tmp_path).read_text()
