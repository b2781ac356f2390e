"""The training loop's health hook: run the checks of ``mmrft.report.health`` at each logged step.

Their warnings go to three places: the log (once, when a check starts firing), ``metrics.jsonl``
(``health/warnings`` on every step it lasts) and the top of ``report.html``. The hook also
logs the two per-step numbers the checks need that the loop does not log by itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from mmrft.config import HealthConfig
from mmrft.report.health import WARNINGS_KEY, HealthWarning, Row, check_eval_drop, check_step
from mmrft.trainer.rollout_step import constant_groups

log = logging.getLogger(__name__)


def step_signals(metrics: Row, overall: Sequence[float], group_size: int) -> dict[str, float]:
    """The two per-step numbers the checks need that the loop does not log by itself.

    ``health/constant_groups``: share of this step's groups whose rewards were all equal
    (with dynamic sampling, the groups it dropped for that count too). ``health/failure_rate``:
    ``reward/failures`` (a count) over every completion scored this step.

    >>> step_signals({"reward/failures": 1}, [1, 1, 0, 1], 2)
    {'health/constant_groups': 0.5, 'health/failure_rate': 0.25}
    """
    flat = sum(constant_groups(list(overall), group_size))
    kept = len(overall) // group_size
    dropped = int(metrics.get("sampling/dropped_groups", 0) or 0)
    groups = kept + dropped
    out = {"health/constant_groups": (flat + dropped) / groups if groups else 0.0}
    failures = metrics.get("reward/failures")
    if isinstance(failures, (int, float)) and groups:
        out["health/failure_rate"] = failures / (groups * group_size)
    return out


def watch(
    cfg: HealthConfig,
    history: Sequence[Row],
    metrics: Row,
    evals: Sequence[Row],
    overall: Sequence[float],
    group_size: int,
) -> Row:
    """Run the checks for the step about to be logged; return the keys to add to its metrics.

    ``history``: the rows logged so far (this step not yet among them); ``evals``: every
    held-out evaluation so far; ``overall``: this step's training rewards, group-contiguous.
    A check that starts firing (it did not on the previous logged step) is logged as a warning;
    ``health/warnings`` lists every active one, each step it lasts.
    """
    if not cfg.enabled:
        return {}
    out: Row = step_signals(metrics, overall, group_size)
    found = check_step(cfg, [*history, {**metrics, **out}])
    # An evaluation runs after the step is logged: check the newest one once, at the next step.
    last_logged = history[-1].get("step", -1) if history else -1
    if cfg.max_eval_drop is not None and evals and evals[-1].get("step", -1) >= last_logged:
        msg = check_eval_drop(evals, cfg.max_eval_drop)
        if msg is not None:
            found.append(HealthWarning("eval_drop", msg))
    before = {w.get("check") for w in (history[-1].get(WARNINGS_KEY) or [])} if history else set()
    for w in found:
        if w.check not in before:
            log.warning("health: %s", w.message)
    if found:
        out[WARNINGS_KEY] = [w.as_dict() for w in found]
    return out
