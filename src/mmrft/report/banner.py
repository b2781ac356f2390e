"""The health banner at the top of a run report: every training-health warning of the run.

Step warnings are read back from ``metrics.jsonl`` (``health/warnings``, written by
``mmrft.trainer.health.watch``) and grouped by check: a check that fired on steps 40-60 is one
line, not twenty. Evaluation drops are recomputed from ``evals.jsonl`` instead, because the
loop only sees an evaluation at the step after it, so the final one would otherwise be missed;
the threshold is the run's ``health.max_eval_drop`` from config.yaml (the default if absent).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mmrft.config import HealthConfig
from mmrft.report.health import WARNINGS_KEY, eval_drops


@dataclass
class Fired:
    """One check's warnings over a run: where it first and last fired, how often, what it said."""

    check: str
    first: int
    last: int
    steps: int
    message: str


def collect(
    metrics: list[dict[str, Any]], evals: list[dict[str, Any]], max_eval_drop: float | None
) -> list[Fired]:
    """Warnings grouped by check, in order of first appearance (eval drops one per evaluation)."""
    fired: dict[str, Fired] = {}
    for row in metrics:
        step = row.get("step", 0)
        for w in row.get(WARNINGS_KEY) or []:
            if not isinstance(w, dict) or w.get("check") == "eval_drop":
                continue
            check, message = str(w.get("check", "?")), str(w.get("message", ""))
            if check in fired:
                f = fired[check]
                f.last, f.steps, f.message = step, f.steps + 1, message
            else:
                fired[check] = Fired(check, step, step, 1, message)
    out = list(fired.values())
    if max_eval_drop is not None:
        out += [Fired("eval_drop", s, s, 1, m) for s, m in eval_drops(evals, max_eval_drop)]
    return out


def run_health_config(run_dir: Path) -> HealthConfig:
    """The run's ``health`` section from config.yaml, or the defaults when it cannot be read."""
    try:
        data = yaml.safe_load((run_dir / "config.yaml").read_text())
        section = data.get("health") if isinstance(data, dict) else None
        return HealthConfig(**section) if isinstance(section, dict) else HealthConfig()
    except (OSError, yaml.YAMLError, TypeError, ValueError):
        return HealthConfig()


def health_banner(run_dir: Path, metrics: list[dict[str, Any]], evals: list[dict[str, Any]]) -> str:
    """HTML for the top of the page, from the run's metrics and evals rows: the warnings, a
    one-line all-clear, or nothing at all (a run logged before the checks existed says neither).
    """
    cfg = run_health_config(run_dir)
    fired = collect(metrics, evals, cfg.max_eval_drop if cfg.enabled else None)
    checked = any(k.startswith("health/") for row in metrics for k in row)
    if not fired:
        return "<p class='healthy'>Health checks: no warnings.</p>" if checked else ""
    items = []
    for f in fired:
        where = f"step {f.first}" if f.first == f.last else f"steps {f.first}&ndash;{f.last}"
        times = f" ({f.steps} logged steps)" if f.steps > 1 else ""
        items.append(
            f"<li><b>{html.escape(f.check)}</b> <span class='where'>{where}{times}</span>: "
            f"{html.escape(f.message)}</li>"
        )
    return (
        f"<div class='health' id='health'><h2>Health warnings ({len(fired)})</h2>"
        f"<ul>{''.join(items)}</ul></div>"
    )
