"""benchmarks/bench_rollout.py --smoke: every engine row and the rollout share print, for both
models, with positive numbers. Timings are not checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROW = re.compile(
    r"^\s+(hf|hf-noshare|hf-before|vllm)\s+(\d+)\s+(\d+\.\d+)\s+(\d+)\s+(\d+\.\d+)\s+(\d+\.\d)%$"
)
SHARE = re.compile(r"rollout share of a step .*: (\d+)%")


def test_bench_rollout_smoke_prints_engine_rows_and_the_rollout_share():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_rollout.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [m for line in proc.stdout.splitlines() if (m := ROW.match(line))]
    engines = [m.group(1) for m in rows]
    for engine in ("hf", "hf-noshare", "hf-before"):
        assert engines.count(engine) == 2, proc.stdout
    for m in rows:
        assert int(m.group(2)) == 4  # the smoke batch: 2 prompts x 2 completions
        assert float(m.group(3)) > 0 and int(m.group(4)) > 0
    shares = [int(m.group(1)) for m in SHARE.finditer(proc.stdout)]
    assert len(shares) == 2 and all(0 < s <= 100 for s in shares), proc.stdout
