"""Training-health checks: each fires on a hand-built degenerate history and stays quiet on a
healthy one; the loop's hook logs a warning once and records it on every step it lasts."""

from __future__ import annotations

import logging
import math

import pytest
from learn_utils import components

from mmrft.config import ConfigError, HealthConfig, load_config
from mmrft.report.health import (
    WARNINGS_KEY,
    check_collapse,
    check_eval_drop,
    check_format_only,
    check_kl,
    check_no_signal,
    check_reward_failures,
    check_step,
    eval_drops,
)
from mmrft.trainer.health import step_signals, watch


def rows_of(key: str, xs: list[float | None]) -> list[dict]:
    return [{"step": i + 1, key: x} for i, x in enumerate(xs)]


# ------------------------------------------------------------------------------ format alone


def test_format_only_fires_when_formatted_but_never_right():
    rows = [{"reward/format": 0.9, "reward/accuracy": 0.0}] * 3
    # window 3: format mean 0.9 >= 0.5 and accuracy mean 0.0 <= 0.02
    msg = check_format_only(rows, 3, 0.02)
    assert msg is not None and "format alone" in msg and "90%" in msg


def test_format_only_quiet_when_accuracy_above_threshold_or_format_rare():
    # accuracy mean (0 + 0 + 0.09) / 3 = 0.03 > 0.02: learning something
    rows = [{"reward/format": 1.0, "reward/accuracy": a} for a in (0.0, 0.0, 0.09)]
    assert check_format_only(rows, 3, 0.02) is None
    # format mean 0.4 < 0.5: completions are not mostly formatted, so not "format alone"
    assert check_format_only([{"reward/format": 0.4, "reward/accuracy": 0.0}] * 3, 3, 0.02) is None
    # fewer rows than the window: too early to say
    assert check_format_only([{"reward/format": 1.0, "reward/accuracy": 0.0}] * 2, 3, 0.02) is None
    # a reward without components: the check has nothing to read
    assert check_format_only([{"reward/mean": 0.1}] * 5, 3, 0.02) is None


# ------------------------------------------------------------------------------ reward failures


def test_reward_failures_threshold_is_strict():
    assert check_reward_failures(0.25, 0.1) is not None  # 25% > 10%
    assert "25%" in check_reward_failures(0.25, 0.1)
    assert check_reward_failures(0.1, 0.1) is None  # exactly at the threshold: quiet
    assert check_reward_failures(None, 0.1) is None  # not logged


def test_step_signals_counts_constant_groups_and_failure_rate():
    # groups of 2: [1, 1] constant, [0, 1] not, [0.5, 0.5] constant -> 2 of 3
    out = step_signals({"reward/failures": 3}, [1, 1, 0, 1, 0.5, 0.5], 2)
    assert out["health/constant_groups"] == pytest.approx(2 / 3)
    assert out["health/failure_rate"] == pytest.approx(3 / 6)  # 3 failures over 6 completions


def test_step_signals_counts_groups_dropped_by_dynamic_sampling():
    # 2 kept groups (not constant: dynamic sampling keeps only those) + 6 dropped constant ones:
    # 6 / 8 groups constant; 4 failures over 8 groups * 2 completions = 16 scored
    metrics = {"sampling/dropped_groups": 6, "reward/failures": 4}
    out = step_signals(metrics, [0, 1, 1, 0], 2)
    assert out["health/constant_groups"] == pytest.approx(6 / 8)
    assert out["health/failure_rate"] == pytest.approx(4 / 16)


# ------------------------------------------------------------------------------ collapse


def test_length_collapse_relative_to_the_runs_start():
    # start window (2): (40 + 40) / 2 = 40; last window: (8 + 8) / 2 = 8 = 20% of 40 < 25%
    rows = rows_of("response_length/mean", [40, 40, 30, 8, 8])
    msg = check_collapse(rows, "response_length/mean", "response length", 2, 0.25)
    assert msg is not None and "20%" in msg
    # 12 / 40 = 30% >= 25%: shorter, but not collapsed
    rows = rows_of("response_length/mean", [40, 40, 30, 12, 12])
    assert check_collapse(rows, "response_length/mean", "response length", 2, 0.25) is None


def test_collapse_needs_two_separate_windows():
    rows = rows_of("actor/entropy", [2.0, 2.0, 0.01])  # 3 < 2 * 2 values
    assert check_collapse(rows, "actor/entropy", "entropy", 2, 0.25) is None


def test_entropy_collapse_ignores_nulls():
    # NaN was written as null; the finite values are [2, 2, 0.1, 0.1]: 0.1 / 2 = 5%
    rows = rows_of("actor/entropy", [2.0, None, 2.0, 0.1, 0.1])
    msg = check_collapse(rows, "actor/entropy", "entropy", 2, 0.25)
    assert msg is not None and "5%" in msg


# ------------------------------------------------------------------------------ no signal


def test_no_signal_names_solved_or_failed():
    solved = [{"health/constant_groups": 1.0, "reward/accuracy": 1.0}] * 3
    failed = [{"health/constant_groups": 1.0, "reward/accuracy": 0.0}] * 3
    assert "every group solved" in check_no_signal(solved, 3, 0.9)
    assert "every group failed" in check_no_signal(failed, 3, 0.9)


def test_no_signal_quiet_while_some_groups_differ():
    # (1 + 1 + 0.5) / 3 = 0.833 < 0.9
    rows = [{"health/constant_groups": f} for f in (1.0, 1.0, 0.5)]
    assert check_no_signal(rows, 3, 0.9) is None


# ------------------------------------------------------------------------------ KL


def test_kl_exploding_on_mean_above_threshold():
    # (0.5 + 1.5 + 2.5) / 3 = 1.5 > 1.0
    assert "1.5" in check_kl(rows_of("actor/kl", [0.01, 0.5, 1.5, 2.5]), 3, 1.0)
    # (0.01 + 0.02 + 2.0) / 3 = 0.677: one spike is not an explosion
    assert check_kl(rows_of("actor/kl", [0.01, 0.02, 2.0]), 3, 1.0) is None


def test_kl_no_longer_finite_fires_at_once():
    assert "finite" in check_kl(rows_of("actor/kl", [0.01, None]), 3, 1.0)
    assert "finite" in check_kl(rows_of("actor/kl", [0.01, math.inf]), 3, 1.0)
    assert check_kl([{"reward/mean": 1.0}] * 5, 3, 1.0) is None  # no reference: no KL logged


# ------------------------------------------------------------------------------ eval drop


def test_eval_drop_compares_with_the_previous_evaluation():
    evals = [{"step": 0, "accuracy": 0.3}, {"step": 50, "accuracy": 0.6}]
    assert check_eval_drop(evals, 0.1) is None  # a rise
    evals.append({"step": 100, "accuracy": 0.45})  # 0.60 - 0.45 = 0.15 > 0.1
    msg = check_eval_drop(evals, 0.1)
    assert msg is not None and "0.600 (step 50)" in msg and "0.450 (step 100)" in msg
    assert check_eval_drop(evals, 0.2) is None  # 0.15 <= 0.2


def test_eval_drops_lists_every_sharp_drop():
    evals = [{"step": s, "accuracy": a} for s, a in [(0, 0.5), (10, 0.3), (20, 0.6), (30, 0.55)]]
    # 0.5 -> 0.3 drops 0.2; 0.3 -> 0.6 rises; 0.6 -> 0.55 drops only 0.05
    assert [step for step, _ in eval_drops(evals, 0.1)] == [10]


# ------------------------------------------------------------------------------ together


def healthy_row(step: int) -> dict:
    return {
        "step": step,
        "reward/mean": 0.5,
        "reward/format": 0.9,
        "reward/accuracy": 0.4 + 0.01 * step,
        "response_length/mean": 20.0 + step % 3,
        "actor/entropy": 1.5,
        "actor/kl": 0.01,
        "health/constant_groups": 0.3,
        "health/failure_rate": 0.0,
    }


def test_healthy_history_gives_no_warning():
    assert check_step(HealthConfig(window=3), [healthy_row(s) for s in range(1, 20)]) == []


def test_check_step_names_each_fired_check_and_null_turns_one_off():
    rows = [healthy_row(s) for s in range(1, 7)]
    for r in rows[3:]:
        r["actor/kl"] = 5.0
        r["actor/entropy"] = 0.1  # 0.1 / 1.5 = 7% of the start
    names = [w.check for w in check_step(HealthConfig(window=3), rows)]
    assert names == ["entropy_collapse", "kl_exploding"]
    names = [w.check for w in check_step(HealthConfig(window=3, max_kl=None), rows)]
    assert names == ["entropy_collapse"]


def test_watch_warns_once_and_records_every_step(caplog):
    cfg = HealthConfig(window=2)
    history: list[dict] = []
    with caplog.at_level(logging.WARNING, logger="mmrft.trainer.health"):
        for step in range(1, 5):
            # every group of 2 solved: [1, 1] [1, 1]
            metrics = {"reward/mean": 1.0, "reward/accuracy": 1.0, "reward/failures": 0}
            out = watch(cfg, history, metrics, [], [1.0, 1.0, 1.0, 1.0], 2)
            history.append({"step": step, **metrics, **out})
    # steps 1: window not full; 2, 3, 4: constant_groups mean 1.0 >= 0.9
    assert [WARNINGS_KEY in r for r in history] == [False, True, True, True]
    assert history[-1][WARNINGS_KEY][0]["check"] == "no_signal"
    warned = [r for r in caplog.records if "no learning signal" in r.getMessage()]
    assert len(warned) == 1  # logged when it started, not on every step


def test_watch_checks_a_new_evaluation_once():
    cfg = HealthConfig(window=2)
    evals = [{"step": 0, "accuracy": 0.8}, {"step": 2, "accuracy": 0.5}]  # dropped 0.3
    history = [{"step": 1}, {"step": 2}]  # eval at step 2 ran after step 2 was logged
    out = watch(cfg, history, {}, evals, [0.0, 1.0], 2)
    assert [w["check"] for w in out[WARNINGS_KEY]] == ["eval_drop"]
    history.append({"step": 3, **out})
    assert WARNINGS_KEY not in watch(cfg, history, {}, evals, [0.0, 1.0], 2)  # not again


def test_watch_disabled_adds_nothing():
    out = watch(HealthConfig(enabled=False), [], {"reward/failures": 8}, [], [0.0] * 8, 8)
    assert out == {}


def test_health_config_keys_are_checked_at_load():
    assert load_config(None, ["health.max_kl=null"]).health.max_kl is None
    with pytest.raises(ConfigError, match="health.max_failure_rate"):
        load_config(None, ["health.max_failure_rate=1.5"])
    with pytest.raises(ConfigError, match="health.window"):
        load_config(None, ["health.window=0"])


# ------------------------------------------------------------------------------ in the RL loop


def test_rl_loop_records_health_in_metrics_jsonl_and_log(tmp_path, caplog):
    """A reward that pays every completion 1.0: every group solved, so no learning signal."""
    import json

    import torch

    from mmrft.data.stream import ProblemStream
    from mmrft.models import family_for, load_policy
    from mmrft.tasks import TASKS
    from mmrft.trainer.rl import train_rl

    def always_right(completions, samples):
        return {"overall": [1.0] * len(completions), "accuracy": [1.0] * len(completions)}

    cfg = load_config(
        None,
        [
            f"run.out_dir={tmp_path}",
            "run.tensorboard=false",
            "rollout.prompts_per_step=2",
            "rollout.group_size=2",
            "rollout.max_new_tokens=4",
            "rl.steps=3",
            "rl.eval_every=100",
            "health.window=2",
        ],
    )
    torch.manual_seed(0)
    model, processor = load_policy("tiny-qwen2.5-vl", seed=0)
    family = family_for(model.config.model_type, processor)
    stream = ProblemStream.from_task(TASKS.get("count")(), 5, 2)
    with caplog.at_level(logging.WARNING, logger="mmrft.trainer.health"):
        train_rl(
            cfg, model, processor, family, stream=stream, reward_fn=always_right, eval_samples=[],
            **components(cfg, model, family),
        )  # fmt: skip
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["health/constant_groups"] for r in rows] == [1.0, 1.0, 1.0]  # 2 of 2 groups
    assert [r.get(WARNINGS_KEY, [{}])[0].get("check") for r in rows] == [
        None,  # step 1: the 2-step window is not full yet
        "no_signal",
        "no_signal",
    ]
    assert "every group solved" in rows[1][WARNINGS_KEY][0]["message"]
    assert sum("no learning signal" in r.getMessage() for r in caplog.records) == 1
