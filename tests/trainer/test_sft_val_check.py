"""sft.val_accuracy: the cold start stops early only once it also generates well on validation
problems; a check that passes at once changes nothing, not even the RNG RL starts from."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from mmrft.build.components import make_reward
from mmrft.build.sft import validation_check
from mmrft.config import ConfigError, load_config
from mmrft.data.stream import ProblemStream
from mmrft.eval.harness import evaluate
from mmrft.models import load_policy
from mmrft.rollout.hf import HFSampler
from mmrft.trainer.sft import train_sft


def constant_stream(count_samples, answer: str = "3") -> ProblemStream:
    """Every target says ``answer``: teacher-forced exact match rises fast with no perception."""
    same = [dataclasses.replace(s, answer=answer) for s in count_samples]
    return ProblemStream(lambda i, lv: same[i % len(same)])


def real_check(model, family, samples):
    """Greedy accuracy on ``samples`` through the evaluation harness, which also samples
    (seeded), i.e. moves the RNG unless it restores it."""
    sampler, reward = HFSampler(model, family), make_reward(load_config(None, []))
    return lambda: evaluate(sampler, samples, reward, n_samples=2, max_new_tokens=8).metrics()[
        "greedy_accuracy"
    ]


def train_to_say_3(model, family, count_samples, steps: int, **check) -> list[dict]:
    """SFT on constant "3" targets with the early stop at a running exact match of 0.9;
    ``check``: the val_check / val_accuracy / val_every under test."""
    return train_sft(
        model,
        family,
        constant_stream(count_samples),
        steps=steps,
        batch_size=6,
        lr=3e-3,
        stop_accuracy=0.9,
        **check,
    )


def test_training_goes_on_until_the_validation_check_passes(fresh_vlm, vlm_family, count_samples):
    model, _ = fresh_vlm
    results = iter([0.1, 0.2, 0.95])
    history = train_to_say_3(
        model, vlm_family, count_samples, 300,
        val_check=lambda: next(results), val_accuracy=0.5, val_every=7,
    )  # fmt: skip
    checked = [(h["step"], h["val_accuracy"]) for h in history if "val_accuracy" in h]
    assert [v for _, v in checked] == [0.1, 0.2, 0.95]
    assert history[-1]["step"] == checked[-1][0]  # stopped right after the passing check
    first = next(h["step"] for h in history if h["step"] >= 20 and h["train_exact_ema"] >= 0.9)
    assert checked[0][0] == first  # the first check comes as soon as the stop rule qualifies
    assert all(b - a >= 7 for (a, _), (b, _) in zip(checked, checked[1:], strict=False))


def test_a_model_that_answers_one_count_never_passes(fresh_vlm, vlm_family, count_samples):
    """Trained to say "3" to everything, it reaches the teacher-forced bar, yet its greedy
    accuracy on real counting problems is the share of them whose answer is 3: below the bar,
    so SFT trains to its cap."""
    model, _ = fresh_vlm
    share_of_3 = sum(s.answer == "3" for s in count_samples) / len(count_samples)
    history = train_to_say_3(
        model, vlm_family, count_samples, 60,
        val_check=real_check(model, vlm_family, count_samples), val_accuracy=0.9, val_every=10,
    )  # fmt: skip
    checked = [h["val_accuracy"] for h in history if "val_accuracy" in h]
    assert len(history) == 60 and checked
    assert share_of_3 < 0.9
    assert checked[-1] == pytest.approx(share_of_3)


def test_a_passing_check_changes_neither_the_model_nor_the_rng(vlm_family, count_samples):
    runs = []
    for with_check in (False, True):
        model, _ = load_policy("tiny-qwen2.5-vl", seed=0)
        torch.manual_seed(0)
        check = real_check(model, vlm_family, count_samples) if with_check else None
        history = train_to_say_3(model, vlm_family, count_samples, 200, val_check=check)
        runs.append((len(history), model.state_dict(), torch.rand(4)))
    (steps_a, state_a, rng_a), (steps_b, state_b, rng_b) = runs
    assert steps_a == steps_b < 200
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert torch.equal(rng_a, rng_b)  # what RL draws next is the same


def test_val_accuracy_config_errors(vlm_family):
    with pytest.raises(ConfigError, match="sft.val_accuracy"):
        load_config(None, ["sft.val_accuracy=0.3"])  # without sft.stop_accuracy
    cfg = load_config(
        None, ["sft.stop_accuracy=0.3", "sft.val_accuracy=0.3", "data.train_path=rows.jsonl"]
    )
    with pytest.raises(ConfigError, match="sft.val_accuracy"):
        validation_check(cfg, None, vlm_family)
