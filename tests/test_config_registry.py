"""Config against the registries: names checked at load, options bound as declared, docs in sync."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import pytest
import torch
import yaml

from mmrft.algorithms.advantages import ADV_ESTIMATORS
from mmrft.algorithms.kl import KL_ESTIMATORS
from mmrft.algorithms.losses import POLICY_LOSSES
from mmrft.build import advantage_estimator, make_objective, policy_loss
from mmrft.config import (
    ALGORITHM_OPTIONS,
    AlgorithmConfig,
    Config,
    ConfigError,
    load_config,
    to_dict,
)
from mmrft.dataclass_yaml import CHOICES, from_dict
from mmrft.trainer.objective import compute_advantages

DEMO = Path(__file__).resolve().parents[1] / "src" / "mmrft" / "configs" / "demo.yaml"

# Inputs the loop passes at run time (never from the config): see compute_advantages.
RUNTIME_INPUTS = {"values", "mask", "token_kl", "kl_coef", "baseline_rewards"}


@pytest.mark.parametrize(
    "override, expected",
    [
        ("algorithm.policy_loss=ppo_clipp", "did you mean ['ppo_clip']"),
        ("algorithm.adv_estimator=gpro", "did you mean ['grpo']"),
        ("algorithm.loss_agg_mode=token_mean", "did you mean ['token-mean'"),
        ("algorithm.kl_estimator=k4", "unknown kl_estimator 'k4'"),
        ("data.task=cont", "did you mean ['count']"),
        ("rollout.engine=vlm", "did you mean ['vllm']"),
        ("rl.reward=mathh", "did you mean ['math']"),
        ("rl.reward={factory: judgee, args: {}}", "unknown reward factory 'judgee'"),
        ("rl.reward={compose: {format: 0.1, mth: 0.9}}", "unknown reward 'mth'"),
        ("data.mixture={count: 1, clok: 1}", "did you mean ['clock']"),
    ],
)
def test_a_misspelt_registry_name_fails_at_load(override, expected):
    with pytest.raises(ConfigError) as e:
        load_config(None, [override])
    assert override.split("=")[0] in str(e.value)
    assert expected in str(e.value)


@pytest.mark.parametrize(
    "override",
    ["rl.reward=task", "rl.reward=mmrft.rewards.math:math_reward", "rl.reward=format"],
)
def test_valid_reward_specs_load(override):
    load_config(None, [override])


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["algorithm.policy_loss=pg", "algorithm.clip_high=0.28"], "'algorithm.clip_high' is not used by policy_loss 'pg'"),
        (["algorithm.policy_loss=gspo", "algorithm.sapo_tau_neg=2"], "'algorithm.sapo_tau_neg' is not used by policy_loss 'gspo'"),
        (["algorithm.adv_estimator=rloo", "algorithm.norm_by_std=false"], "'algorithm.norm_by_std' is not used by adv_estimator 'rloo'"),
        (["algorithm.gae_lambda=0.9"], "'algorithm.gae_lambda' is not used by adv_estimator 'grpo'"),
    ],
)  # fmt: skip
def test_an_option_the_chosen_component_ignores_is_an_error(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_options_the_component_takes_or_left_at_default_load():
    cfg = load_config(None, ["algorithm.policy_loss=sapo", "algorithm.sapo_tau_pos=2"]).algorithm
    assert policy_loss(cfg).keywords == {"tau_pos": 2.0, "tau_neg": 1.05}
    load_config(None, ["algorithm.policy_loss=pg"])  # clip_low etc. at their defaults: fine
    gae = load_config(None, ["algorithm.adv_estimator=gae", "algorithm.gae_lambda=0.9"]).algorithm
    assert advantage_estimator(gae).options == {"gamma": 1.0, "lam": 0.9}


@pytest.mark.parametrize(
    "registry, selector",
    [(ADV_ESTIMATORS, "adv_estimator"), (POLICY_LOSSES, "policy_loss")],
)
def test_declared_options_are_exactly_the_keywords_the_config_can_feed(registry, selector):
    """The declaration replaces signature reading at run time; this keeps the two in step."""
    feedable = set(ALGORITHM_OPTIONS[selector].values())
    for name in registry:
        entry = registry.entry(name)
        params = inspect.signature(inspect.unwrap(entry.obj)).parameters
        keywords = {p for p, v in params.items() if v.kind is v.KEYWORD_ONLY}
        assert set(entry.options) == keywords & feedable, name
        assert set(entry.options) <= keywords, name
        if selector == "adv_estimator":  # every other keyword is a declared run-time input
            needs_inputs = keywords - feedable - {"eps"}
            assert needs_inputs <= RUNTIME_INPUTS, (name, needs_inputs)
            assert ("baseline_rewards" in needs_inputs) == ("greedy_baseline" in entry.needs)
            assert ("values" in needs_inputs) == ("critic" in entry.needs)


def test_needs_come_from_the_declarations():
    assert make_objective(AlgorithmConfig(adv_estimator="gae")).needs_critic
    assert not make_objective(AlgorithmConfig()).needs_critic
    assert make_objective(AlgorithmConfig(adv_estimator="remax")).needs_greedy_baseline
    assert not make_objective(AlgorithmConfig(adv_estimator="rloo")).needs_greedy_baseline


def test_a_new_estimator_gets_only_what_it_declares(monkeypatch):
    seen = {}

    def probe(rewards, group_size, *, k=0, norm_by_std=True, baseline_rewards=None):
        seen.update(k=k, norm_by_std=norm_by_std, baseline=baseline_rewards)
        return rewards

    monkeypatch.setitem(
        ADV_ESTIMATORS._items, "probe", type(ADV_ESTIMATORS.entry("grpo"))(probe, ("k",))
    )
    cfg = AlgorithmConfig(adv_estimator="probe", passk_k=3)
    compute_advantages(make_objective(cfg), torch.ones(4), 2, baseline_rewards=torch.zeros(2))
    assert seen == {"k": 3, "norm_by_std": True, "baseline": None}  # undeclared: not passed


def test_remax_without_a_baseline_names_the_estimator():
    with pytest.raises(ValueError, match="'remax' needs baseline_rewards"):
        compute_advantages(make_objective(AlgorithmConfig(adv_estimator="remax")), torch.ones(4), 2)


def _choice_fields(cls=Config, prefix=""):
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.type if isinstance(f.type, type) else None):
            yield from _choice_fields(f.type, f"{prefix}{f.name}.")
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            yield from _choice_fields(type(default), f"{prefix}{f.name}.")
        elif CHOICES in f.metadata:
            yield f"{prefix}{f.name}", f


def test_every_name_selecting_key_lists_its_registry_and_defaults_are_valid():
    fields = dict(_choice_fields())
    assert set(fields) >= {
        "data.task",
        "rollout.engine",
        "algorithm.adv_estimator",
        "algorithm.policy_loss",
        "algorithm.loss_agg_mode",
        "algorithm.kl_estimator",
    }
    assert fields["algorithm.kl_estimator"].metadata[CHOICES]() == KL_ESTIMATORS.names()
    for key, f in fields.items():
        assert f.default in f.metadata[CHOICES](), key


def test_default_yaml_lists_the_registry_names():
    from mmrft.config import default_yaml

    text = default_yaml()
    assert f"Choices: {', '.join(POLICY_LOSSES.names())}." in " ".join(
        line.strip("# ").strip() for line in text.splitlines()
    )


def test_from_dict_checks_choices_with_any_dataclass():
    @dataclasses.dataclass
    class Section:
        color: str = dataclasses.field(default="red", metadata={CHOICES: lambda: ["red", "blue"]})

    assert from_dict(Section, {"color": "blue"}).color == "blue"
    with pytest.raises(ConfigError, match=r"config key 'color': unknown color 'bleu'.*\['blue'\]"):
        from_dict(Section, {"color": "bleu"})


def test_demo_yaml_holds_only_keys_that_differ_from_the_defaults():
    demo = yaml.safe_load(DEMO.read_text())
    defaults = to_dict(Config())
    same = [
        f"{section}.{key}"
        for section, values in demo.items()
        for key, value in values.items()
        if defaults[section][key] == value
    ]
    assert same == []
    assert load_config(DEMO).sft.stop_accuracy == 0.35
