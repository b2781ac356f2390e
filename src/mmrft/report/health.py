"""Training-health checks: is a run's logged history that of a run that degenerated?

An RL run can look busy (loss moving, steps ticking) while it has stopped learning anything
useful. Each check below is a pure function of the logged rows (metrics.jsonl / evals.jsonl)
that returns a message, or ``None`` when all is well. ``mmrft.trainer.health.watch`` runs them
at every logged step of the training loop; the report (``banner.py``) shows what they found.
They live here, below the trainer, because both the loop and the report read them.

======================  ========================================================================
check                   fires when (means over the last ``window`` logged steps)
======================  ========================================================================
format_only             completions are mostly well formatted but (almost) never correct: the
                        reward is earned by format alone
reward_failures         a step's share of completions whose reward raised / timed out / was NaN
length_collapse         mean response length fell below ``collapse_ratio`` x its start value
entropy_collapse        policy entropy fell the same way (the policy stopped exploring)
no_signal               (nearly) every group scored its completions all alike — every group
                        solved or every group failed — so group advantages are zero
kl_exploding            KL to the reference policy above ``max_kl`` per token
eval_drop               a held-out evaluation fell more than ``max_eval_drop`` below the previous
======================  ========================================================================

Design choices: checks warn and never stop a run (a false alarm must not cost a run; aborting
on failures is the reward layer's job). Window means, not single steps, because RL metrics are
noisy. "Collapse" is relative to the run's own first ``window`` logged steps, since what counts
as short or low-entropy depends on the task and model. A metric the run does not log (no
``reward/format`` for a reward without that component, no ``actor/kl`` without a reference)
simply skips its check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mmrft.config import HealthConfig

Row = dict[str, Any]
"""One logged step: ``{"step": 3, "reward/mean": 0.4, ...}`` as in metrics.jsonl."""

WARNINGS_KEY = "health/warnings"
"""metrics.jsonl key holding the step's active warnings, ``[{"check": ..., "message": ...}]``."""

FORMATTED = 0.5
"""format_only needs at least this mean ``reward/format``: most completions well formatted."""


@dataclass(frozen=True)
class HealthWarning:
    check: str
    """Which check fired (``"kl_exploding"``, ...): stable, to group warnings across steps."""
    message: str
    """What was seen, with the numbers and the config key that sets the threshold."""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "message": self.message}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def values(rows: Sequence[Row], key: str) -> list[float]:
    """The finite numbers logged under ``key``, in order (rows without it are skipped).

    >>> values([{"a": 1}, {"b": 2}, {"a": None}, {"a": 3.0}], "a")
    [1.0, 3.0]
    """
    return [
        float(r[key])
        for r in rows
        if isinstance(r.get(key), (int, float))
        and not isinstance(r.get(key), bool)
        and math.isfinite(r[key])
    ]


def recent_mean(rows: Sequence[Row], key: str, window: int) -> float | None:
    """Mean of the last ``window`` values of ``key``; None until there are that many.

    >>> recent_mean([{"a": 1}, {"a": 2}, {"a": 4}], "a", 2)
    3.0
    >>> recent_mean([{"a": 1}], "a", 2) is None
    True
    """
    xs = values(rows, key)
    return sum(xs[-window:]) / window if len(xs) >= window else None


# --------------------------------------------------------------------------------------------
# The checks: pure functions of the history, a message or None
# --------------------------------------------------------------------------------------------


def check_format_only(rows: Sequence[Row], window: int, max_accuracy: float) -> str | None:
    """Well-formatted completions (format >= 0.5) whose accuracy stays <= ``max_accuracy``."""
    fmt = recent_mean(rows, "reward/format", window)
    acc = recent_mean(rows, "reward/accuracy", window)
    if fmt is None or acc is None or fmt < FORMATTED or acc > max_accuracy:
        return None
    return (
        f"reward earned by format alone: over the last {window} steps {fmt:.0%} of completions "
        f"were well formatted but accuracy was {acc:.3f} (<= health.format_only_accuracy "
        f"{max_accuracy}); check the answer extraction and the reward against the task"
    )


def check_reward_failures(failure_rate: float | None, max_rate: float) -> str | None:
    """More than ``max_rate`` of this step's completions failed to score (scored 0 instead)."""
    if failure_rate is None or failure_rate <= max_rate:
        return None
    return (
        f"reward failures: {failure_rate:.0%} of this step's completions could not be scored "
        f"(> health.max_failure_rate {max_rate:.0%}); they score 0, so the policy trains on "
        "noise: see the reward's warnings in the log"
    )


def check_collapse(
    rows: Sequence[Row], key: str, what: str, window: int, ratio: float
) -> str | None:
    """``key``'s recent mean below ``ratio`` x its mean over the first ``window`` values."""
    xs = values(rows, key)
    if len(xs) < 2 * window:  # a start and a recent window that do not overlap
        return None
    start, now = sum(xs[:window]) / window, sum(xs[-window:]) / window
    if start <= 0 or now >= ratio * start:
        return None
    return (
        f"{what} collapsing: {key} averaged {now:.4g} over the last {window} steps, "
        f"{now / start:.0%} of its {start:.4g} at the start (< health.collapse_ratio {ratio})"
    )


def check_no_signal(rows: Sequence[Row], window: int, max_fraction: float) -> str | None:
    """``health/constant_groups`` >= ``max_fraction`` on average: no advantage, no gradient."""
    frac = recent_mean(rows, "health/constant_groups", window)
    if frac is None or frac < max_fraction:
        return None
    acc = recent_mean(rows, "reward/accuracy", window)
    if acc is None:
        what = "every group's completions scored alike"
    elif acc >= 0.99:
        what = "every group solved (the problems are too easy: raise data.level)"
    elif acc <= 0.01:
        what = "every group failed (the problems are too hard, or the reward never pays)"
    else:
        what = "groups all solved or all failed"
    return (
        f"no learning signal: {what}; {frac:.0%} of groups had equal rewards over the last "
        f"{window} steps (>= health.max_constant_groups {max_fraction}), so their advantages "
        "are zero"
    )


def check_kl(rows: Sequence[Row], window: int, max_kl: float) -> str | None:
    """KL to the reference above ``max_kl`` per token (or no longer a finite number)."""
    latest = next((r["actor/kl"] for r in reversed(rows) if "actor/kl" in r), 0.0)
    if latest is None or (isinstance(latest, float) and not math.isfinite(latest)):
        return "KL exploding: actor/kl is no longer a finite number"
    kl = recent_mean(rows, "actor/kl", window)
    if kl is None or kl <= max_kl:
        return None
    return (
        f"KL exploding: actor/kl averaged {kl:.4g} per token over the last {window} steps "
        f"(> health.max_kl {max_kl}); the policy is running away from the reference: lower "
        "rl.lr or raise algorithm.kl_coef"
    )


def check_eval_drop(evals: Sequence[Row], max_drop: float, key: str = "accuracy") -> str | None:
    """The latest evaluation's ``key`` more than ``max_drop`` below the one before it."""
    scored = [e for e in evals if isinstance(e.get(key), (int, float))]
    if len(scored) < 2:
        return None
    prev, last = scored[-2], scored[-1]
    drop = prev[key] - last[key]
    if drop <= max_drop:
        return None
    return (
        f"held-out {key} dropped from {prev[key]:.3f} (step {prev.get('step', '?')}) to "
        f"{last[key]:.3f} (step {last.get('step', '?')}), more than health.max_eval_drop "
        f"{max_drop}"
    )


def eval_drops(evals: Sequence[Row], max_drop: float) -> list[tuple[int, str]]:
    """Every evaluation that fell sharply below its predecessor: ``[(step, message)]``."""
    out = []
    for i in range(2, len(evals) + 1):
        msg = check_eval_drop(evals[:i], max_drop)
        if msg is not None:
            out.append((int(evals[i - 1].get("step", i - 1)), msg))
    return out


def check_step(cfg: HealthConfig, rows: Sequence[Row]) -> list[HealthWarning]:
    """Every step check against ``rows`` (the history, this step last); a null key skips one."""
    w, found = cfg.window, []
    row = rows[-1] if rows else {}
    checks = {
        "format_only": lambda t: check_format_only(rows, w, t),
        "reward_failures": lambda t: check_reward_failures(row.get("health/failure_rate"), t),
        "length_collapse": lambda t: check_collapse(
            rows, "response_length/mean", "response length", w, t
        ),
        "entropy_collapse": lambda t: check_collapse(rows, "actor/entropy", "entropy", w, t),
        "no_signal": lambda t: check_no_signal(rows, w, t),
        "kl_exploding": lambda t: check_kl(rows, w, t),
    }
    thresholds = {
        "format_only": cfg.format_only_accuracy,
        "reward_failures": cfg.max_failure_rate,
        "length_collapse": cfg.collapse_ratio,
        "entropy_collapse": cfg.collapse_ratio,
        "no_signal": cfg.max_constant_groups,
        "kl_exploding": cfg.max_kl,
    }
    for name, run in checks.items():
        if thresholds[name] is not None and (msg := run(thresholds[name])) is not None:
            found.append(HealthWarning(name, msg))
    return found
