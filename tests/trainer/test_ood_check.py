"""The OOD difficulty check (``eval.ood_level``): a reduced run reports it in summary.json and
report.html, and its before/after values are what an independent evaluation of the cold start
(``out/sft``) and of the final policy (``out/model``) on the same problems gives."""

from __future__ import annotations

import inspect
import json

import pytest

from mmrft.build import run
from mmrft.config import load_config
from mmrft.dataclass_yaml import ConfigError
from mmrft.eval.harness import evaluate
from mmrft.models import family_for, load_policy
from mmrft.rollout.hf import HFSampler
from mmrft.tasks import TASKS
from mmrft.trainer.pipeline import OODCheck

SMALL = [
    "sft.steps=4",
    "sft.batch_size=4",
    "rl.steps=2",
    "rl.eval_every=1",
    "data.eval_size=6",
    "eval.n_samples=2",
    "rollout.prompts_per_step=2",
    "rollout.group_size=2",
    "run.tensorboard=false",
]


def parity(completions: list[str], samples: list) -> dict[str, list[float]]:
    """A reward that depends on every character of a completion, so that a tiny policy which
    cannot count yet still scores unlike 0 and any change in its outputs shows."""
    scores = [float(sum(map(ord, c)) % 2 == 0) for c in completions]
    return {"overall": scores, "accuracy": scores}


def _independent_eval(policy_dir, n_problems: int, seed: int):
    """Level-3 counting problems from the default eval seed, evaluated as the harness does,
    on the policy loaded afresh from disk (nothing shared with the run)."""
    model, processor = load_policy(str(policy_dir))
    family = family_for(model.config.model_type, processor)
    problems = TASKS.get("count")(image_size=112).dataset(n_problems, seed=1_000_000, level=3)
    assert max(int(p.answer) for p in problems) <= 7  # level 3 counts 1-7 (training: 1-5)
    return evaluate(
        HFSampler(model, family), problems, parity, n_samples=2, max_new_tokens=16, seed=seed
    )


def test_ood_check_reported_and_equal_to_independent_evaluations(tmp_path):
    reward = tmp_path / "parity.py"
    reward.write_text(inspect.getsource(parity))
    over = [f"run.out_dir={tmp_path}", "run.seed=3", "eval.ood_level=3", "eval.ood_size=8"]
    # rl.lr 1e-2: two steps move this tiny policy enough that before and after differ
    over += [f"rl.reward={reward}:parity", "rl.lr=1e-2"]
    summary = run(load_config(None, [*over, *SMALL]))
    assert json.loads((tmp_path / "summary.json").read_text()) == summary
    assert (summary["ood_level"], summary["ood_problems"]) == (3, 8)
    assert summary["ood_eval_seconds"] >= 0
    before = _independent_eval(tmp_path / "sft", 8, seed=3)  # the cold start RL began from
    after = _independent_eval(tmp_path / "model", 8, seed=3)  # the exported final policy
    assert (before.accuracy, before.greedy_accuracy) != (after.accuracy, after.greedy_accuracy)
    assert summary["ood_accuracy_before"] == pytest.approx(before.accuracy)
    assert summary["ood_greedy_accuracy_before"] == pytest.approx(before.greedy_accuracy)
    assert summary["ood_accuracy_after"] == pytest.approx(after.accuracy)
    assert summary["ood_greedy_accuracy_after"] == pytest.approx(after.greedy_accuracy)
    page = (tmp_path / "report.html").read_text()
    assert "Generalisation to an unseen difficulty" in page and "level 3" in page


def test_off_by_default_and_refused_for_datasets(tmp_path):
    task = TASKS.get("count")()
    off = OODCheck(load_config(None, []), task)
    off.evaluate(lambda problems: pytest.fail("evaluated with eval.ood_level null"))
    assert off.problems == [] and off.summary() == {}
    data = ["data.train_path=x.jsonl", "eval.ood_level=3"]
    with pytest.raises(ConfigError, match="eval.ood_level"):
        OODCheck(load_config(None, data), task)
