"""The composition root: a validated ``Config`` in, ready components out.

Everything that turns config values into objects lives in this package, so the training loop
and the evaluation receive components, not the config, to decide what to run, and a value can
be followed from YAML to its use:

``components`` builds the parts:

* the RL math: ``make_objective`` — the registry entries ``algorithm.*`` names, bound to exactly
  the options their registrations declare (``config.ALGORITHM_OPTIONS`` maps config keys to
  those keyword names; no signature is read), handed to the trainer as an ``Objective``;
* the run's problems and scoring: ``make_task``, ``make_data``, ``make_reward``;
* the model side: ``make_family`` and ``make_sampler``;
and each stage module strings them into one command's run: ``train`` (``mmrft train``: the
SFT cold start, GRPO, evaluation and report).

Layering: ``config``, the registries (``algorithms``, ``tasks``, ``rewards``, ``models``,
``rollout``, ``data``), ``eval`` and ``trainer`` sit below this package; only ``cli`` is above it
(``tests/test_imports.py`` enforces the order).
"""

from mmrft.build.components import (
    RL_BASE,
    SFT_BASE,
    advantage_estimator,
    bound_options,
    kl_estimator,
    level_policy,
    make_data,
    make_family,
    make_objective,
    make_reward,
    make_sampler,
    make_task,
    policy_loss,
    sample_reward_name,
)
from mmrft.build.train import check_world, run

__all__ = [
    "RL_BASE",
    "SFT_BASE",
    "advantage_estimator",
    "bound_options",
    "check_world",
    "kl_estimator",
    "level_policy",
    "make_data",
    "make_family",
    "make_objective",
    "make_reward",
    "make_sampler",
    "make_task",
    "policy_loss",
    "run",
    "sample_reward_name",
]
