"""``mmrft eval`` with a benchmark, with the built-in suite, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mmrft.cli import main
from mmrft.data.sample import Sample
from mmrft.eval.benchmarks.base import BENCHMARKS, Benchmark, BenchmarkData
from mmrft.eval.suite import build_suite, fingerprint

BENCH = "test-eval-cli-bench"  # test-only loader: JSONL of MathVista-style records


@BENCHMARKS.register(BENCH, overwrite=True)
class JsonlMathVista(Benchmark):
    name = BENCH
    scorer = "mathvista"

    def load(self, path, *, split=None):
        data = BenchmarkData()
        for n, line in enumerate(Path(path).read_text().splitlines(), start=1):
            row = json.loads(line)
            if "answer" not in row:
                data.skipped.append((f"row {n}", "missing field 'answer'"))
                continue
            image = Image.new("RGB", (32, 32), (n * 40, 90, 160))
            meta = {"record": row, "category": row["category"]}
            data.samples.append(Sample(f"q{n}", row["question"], row["answer"], [image], meta=meta))
        return data


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_eval_benchmark(tmp_path, capsys):
    rows = [
        {"question": "How many?", "answer": "3", "category": "count",
         "question_type": "free_form", "answer_type": "integer", "precision": None},
        {"question": "Which?", "answer": "B", "category": "choice", "choices": ["x", "y"],
         "question_type": "multi_choice", "answer_type": "text", "precision": None},
        {"question": "broken row"},
    ]  # fmt: skip
    data = tmp_path / "bench.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out"
    argv = ["eval", "tiny-qwen2.5-vl", "--benchmark", BENCH, "--data", str(data), "--k", "2"]
    assert main([*argv, "--max-new-tokens", "3", "--out", str(out)]) == 0
    summary = last_json(capsys)
    assert summary["n_problems"] == 2 and summary["k"] == 2 and summary["skipped"] == 1
    assert summary["temperature"] == 1.0  # k > 1 samples the policy by default
    assert set(summary["official"]) == set(summary["strict"]) == {"mean@2", "pass@1", "pass@2",
                                                                  "maj@2"}  # fmt: skip
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["categories"]) == ["choice", "count"]
    assert results["scorer"] == "mathvista" and results["skipped"]["count"] == 1
    preds = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 4
    for mode in ("official", "strict"):
        mean = sum(p[mode]["score"] for p in preds) / 4
        assert results["overall"][mode]["mean@2"] == pytest.approx(mean)
    assert (out / "report.html").is_file()


def test_eval_suite(tmp_path, capsys):
    out = tmp_path / "suite"
    argv = ["eval", "tiny-qwen2.5-vl", "--benchmark", "mmrft-bench-v1", "--limit", "2"]
    assert main([*argv, "--max-new-tokens", "3", "--out", str(out)]) == 0
    summary = last_json(capsys)
    assert summary["n_problems"] == 2 and summary["k"] == 1 and summary["temperature"] == 0.0
    assert set(summary["reward"]) == {"mean@1", "pass@1", "maj@1"}
    assert summary["fingerprint"] == fingerprint(build_suite("v1", limit=2))
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["categories"]) == ["count/L2", "count/L4"]
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 2


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--benchmark", "no-such-bench"], ["unknown benchmark 'no-such-bench'", "mmrft-bench-v1"]),
        (["--benchmark", BENCH, "--data", "no/such/dir"], ["not found", "no/such/dir"]),
        (["--benchmark", BENCH], ["needs --data"]),
        (["--data", "x"], ["--data/--split go with --benchmark"]),
        (["--benchmark", "mmrft-bench-v1", "--data", "x"], ["takes no --data"]),
        (["--dataset", "no/such.jsonl"], ["no/such.jsonl"]),
    ],
)
def test_eval_errors_are_one_line(args, expected, capsys):
    assert main(["eval", "tiny-qwen2.5-vl", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mmrft: error:") and "Traceback" not in err
    for text in expected:
        assert text in err
