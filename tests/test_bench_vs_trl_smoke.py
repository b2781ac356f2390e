"""benchmarks/bench_vs_trl.py --smoke: both trainers run on both saved models, each in its own
process, and the script ends with one parseable ratio line per model. Timings are not checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINE = re.compile(r"^(text|vlm): speedup_vs_trl=(\d+\.\d+) memory_vs_trl=(\d+\.\d+)$")


def test_bench_vs_trl_smoke_prints_one_ratio_line_per_model():
    pytest.importorskip("trl")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_vs_trl.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    last = proc.stdout.strip().splitlines()[-2:]
    parsed = [LINE.match(x) for x in last]
    assert all(parsed), last
    assert [m.group(1) for m in parsed] == ["text", "vlm"]
    for m in parsed:  # ratios of positive times and sizes
        assert float(m.group(2)) > 0 and float(m.group(3)) > 0
