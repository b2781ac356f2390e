"""Tests for the HTML run report: built from a fake run directory, offline, never crashing."""

from __future__ import annotations

import json
import re
import socket

import pytest
from fake_run import make_run, write_jsonl

from mmrft.report.html import write_report


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the report must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_full_report(tmp_path, no_network):
    run_dir = make_run(tmp_path / "run")
    out = write_report(run_dir)
    assert out == run_dir / "report.html"
    page = out.read_text()

    # summary numbers, before/after side by side with the change
    assert "0.312" in page and "0.874" in page and "+0.562" in page
    assert "greedy_accuracy" in page and "tiny-qwen2.5-vl" in page
    assert "1234" in page and "20m 34s" in page
    # one embedded <img> per example, plus plots
    example_imgs = re.findall(r"<img class='example' src='data:image/png;base64,", page)
    assert len(example_imgs) == 3
    assert len(re.findall(r"<img class='plot' src='data:image/png;base64,", page)) >= 2
    # metrics: namespaces as headings, constants listed, the bad line reported
    for ns in ("actor", "reward", "response_length", "throughput"):
        assert f"<h3>{ns}</h3>" in page
    assert "<h3>time</h3>" not in page and "time/rollout = 1.5" in page
    assert "1 unreadable lines in metrics.jsonl" in page
    # correctness colouring and the config, escaped
    assert page.count("completion ok") == 3 and page.count("completion bad") == 3
    assert "# &lt;tuned&gt;" in page
    # self-contained: no scripts, no remote resources
    assert "<script" not in page
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)


def test_only_summary(tmp_path, no_network):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "summary.json").write_text(
        json.dumps({"accuracy_before": 0.1, "accuracy_after": 0.2})
    )
    page = write_report(run_dir).read_text()
    assert "0.1" in page and "0.2" in page
    for name in ("metrics.jsonl", "evals.jsonl", "examples.jsonl", "config.yaml"):
        assert f"No {name} in this run directory" in page
    assert "<img" not in page


def test_empty_dir_and_broken_files_do_not_crash(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    page = write_report(run_dir).read_text()
    assert "No summary.json" in page
    (run_dir / "summary.json").write_text("{broken")
    (run_dir / "metrics.jsonl").write_text('{"step": 1, "loss": 1.0}\n[1, 2]\n')
    write_jsonl(run_dir / "examples.jsonl", [{"image": "gone.png", "answer": "3"}])
    page = write_report(run_dir).read_text()
    assert "Could not render this section: JSONDecodeError" in page
    assert "no varying numeric key" in page
    assert "image missing: gone.png" in page
