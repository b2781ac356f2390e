"""benchmarks/ablate_mmrft.py --smoke: two config variants of mmrft, each in its own process,
and one parseable ratio line; a malformed variant is refused. Timings are not checked."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "benchmarks" / "ablate_mmrft.py")


def test_ablate_smoke_prints_a_ratio_per_variant():
    proc = subprocess.run(
        [
            sys.executable,
            SCRIPT,
            "--smoke",
            "--variant",
            "before=rollout.onednn_weights=never run.retain_freed_memory=false",
            "--variant",
            "now=",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = re.match(
        r"^text: before=(\d+\.\d+)x now=(\d+\.\d+)x$", proc.stdout.strip().splitlines()[-1]
    )
    assert m, proc.stdout[-1000:]
    assert float(m.group(1)) == 1.0 and float(m.group(2)) > 0  # the first variant is the unit


def test_ablate_refuses_a_variant_without_a_name():
    proc = subprocess.run(
        [sys.executable, SCRIPT, "--smoke", "--variant", "rl.lr=1e-3", "--variant", "now="],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2 and "must look like NAME=key=value" in proc.stderr
