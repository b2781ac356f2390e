"""The health banner at the top of report.html: warnings written by the training loop's checks,
grouped by check, and evaluation drops recomputed from evals.jsonl (the final one included)."""

from __future__ import annotations

import json
import re

from fake_run import make_degenerate_run, make_run, write_jsonl

from mmrft.report.html import write_report


def banner(page: str) -> str:
    match = re.search(r"<div class='health' id='health'>(.*?)</div>", page, re.S)
    assert match, "no health banner on the page"
    return match.group(1)


def test_banner_comes_first_and_groups_each_check(tmp_path):
    page = write_report(make_degenerate_run(tmp_path / "run")).read_text()
    assert page.index("id='health'") < page.index("<h2>Summary</h2>")
    text = banner(page)
    # KL 3 + step from step 25: the 5-step window mean (0.01*4 + 28)/5 = 5.6 > 1 already at 25
    assert "<b>kl_exploding</b> <span class='where'>steps 25&ndash;40 (16 logged steps)" in text
    assert text.count("kl_exploding") == 1  # one line for 16 steps, not 16 lines
    # the final evaluation (after the last logged step) dropped 0.874 -> 0.574
    assert "<b>eval_drop</b> <span class='where'>step 41</span>" in text
    assert "0.874 (step 40) to 0.574 (step 41)" in text
    assert "Health warnings (2)" in text


def test_run_threshold_from_config_yaml(tmp_path):
    run_dir = make_degenerate_run(tmp_path / "run")
    (run_dir / "config.yaml").write_text("health:\n  max_eval_drop: 0.5\n")  # 0.3 < 0.5
    text = banner(write_report(run_dir).read_text())
    assert "eval_drop" not in text and "kl_exploding" in text


def test_all_clear_only_when_the_checks_ran(tmp_path):
    old = make_run(tmp_path / "old")  # logged before the checks existed: say nothing
    page = write_report(old).read_text()
    assert "id='health'" not in page and "Health checks" not in page
    checked = tmp_path / "checked"
    checked.mkdir()
    write_jsonl(checked / "metrics.jsonl", [{"step": 1, "health/constant_groups": 0.2}])
    assert "Health checks: no warnings." in write_report(checked).read_text()


def test_malformed_warnings_do_not_break_the_page(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    rows = [
        {"step": 1, "health/warnings": ["not a dict"]},
        {"step": 2, "health/warnings": [{"check": "<script>", "message": "a < b"}]},
    ]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = banner(write_report(run_dir).read_text())
    assert "&lt;script&gt;" in text and "a &lt; b" in text and "<script>" not in text
