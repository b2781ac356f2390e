"""docs/eval.md names the official source of every registered scorer (issue: scorer fidelity)."""

import re
from pathlib import Path

from mmrft.eval.scorers import SCORERS

DOCS = Path(__file__).resolve().parents[2] / "docs" / "eval.md"


def test_every_scorer_has_a_row_with_its_source():
    text = DOCS.read_text()
    table = text[text.index("## Scorers") : text.index("### MathVista")]  # the scorer table only
    rows = {
        m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \|.*\| ([^|]+) \|$", table, re.M)
    }
    missing = [name for name in SCORERS.names() if name not in rows]
    assert not missing, f"docs/eval.md has no scorer-table row for {missing}"
    assert all(rows[name].strip() for name in SCORERS.names())
