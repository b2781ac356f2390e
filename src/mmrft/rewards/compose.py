"""Combine rewards: weighted sums, gating, weight schedules and per-task routing.

Design note: a composed reward is still a plain reward, ``fn(completions, samples)``, so the
training loop calls it like any other. Schedules make its weights depend on the training step,
which the loop tells it once per step, before scoring:

    if hasattr(reward_fn, "set_step"):
        reward_fn.set_step(step)

A schedule itself is a pure function of the step (``schedule_value(spec, step)``); the only
state is the step last set. A config-friendly spec, with keys resolved by ``resolve_reward``
(registered names or ``module:function``) or by the factories in ``REWARD_FACTORIES``::

    compose_rewards(
        {"format": 0.1,                                          # constant weight
         "math": {"schedule": "linear", "start": 0.5, "end": 0.9, "steps": 1000},
         "overlong": {"weight": 1.0, "args": {"max_length": 4096, "cache": 512}},
         "boxes": {"weight": 0.5, "factory": "box", "args": {"kind": "grounding",
                                                              "box_format": "rel1000"}}},
        gate="format",           # the others count only where format's overall >= 1
    )

Output: ``overall = sum_k w_k(step) * gate * r_k.overall`` where the gate multiplies every
term except the gate's own; components are each term's overall under its name and each of its
components as ``"name/component"``. ``route_by_task`` picks a reward per ``sample.task``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from mmrft.data.sample import Sample
from mmrft.registry import Registry
from mmrft.rewards.base import REWARDS, RewardFn, check_scores
from mmrft.rewards.custom import resolve_reward
from mmrft.rewards.grounding import make_box_reward
from mmrft.rewards.guard import reward_name
from mmrft.rewards.judge import judge_reward_from_config
from mmrft.rewards.length import make_overlong_reward, make_repetition_reward
from mmrft.rewards.reward_model import reward_model_reward_from_config

WeightSpec = float | int | Mapping[str, Any]

# Rewards that need arguments; a compose term uses them as {"weight": w, "args": {...}}.
REWARD_FACTORIES: Registry[Callable[..., RewardFn]] = Registry("reward factory")
REWARD_FACTORIES.register("overlong")(make_overlong_reward)
REWARD_FACTORIES.register("repetition")(make_repetition_reward)
REWARD_FACTORIES.register("box")(make_box_reward)
# Model-based rewards: "model" is a path or hub name, loaded once and cached (judge.py,
# reward_model.py); torch/transformers are imported only when one is built.
REWARD_FACTORIES.register("judge")(judge_reward_from_config)
REWARD_FACTORIES.register("reward_model")(reward_model_reward_from_config)


def schedule_value(spec: WeightSpec, step: int) -> float:
    """The weight at ``step`` for a constant or a schedule spec.

    * a number: constant;
    * ``{"schedule": "constant", "value": v}``;
    * ``{"schedule": "linear" | "cosine", "start": a, "end": b, "steps": n}``: from ``a`` at
      step 0 to ``b`` at step ``n`` (then ``b``); cosine is ``b + (a - b)(1 + cos(pi t)) / 2``
      with ``t = min(step / n, 1)``;
    * ``{"schedule": "step", "values": [v0, v1, ...], "boundaries": [s1, ...]}``: ``v0`` before
      ``s1``, ``v1`` from ``s1``, and so on (``len(values) == len(boundaries) + 1``).

    >>> lin = {"schedule": "linear", "start": 0.0, "end": 1.0, "steps": 10}
    >>> [schedule_value(lin, s) for s in (0, 5, 20)], schedule_value(0.3, 7)
    ([0.0, 0.5, 1.0], 0.3)
    >>> cos = {"schedule": "cosine", "start": 1.0, "end": 0.0, "steps": 10}
    >>> stp = {"schedule": "step", "values": [1.0, 0.5, 0.1], "boundaries": [10, 20]}
    >>> round(schedule_value(cos, 5), 6), [schedule_value(stp, s) for s in (0, 10, 25)]
    (0.5, [1.0, 0.5, 0.1])
    """
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return float(spec)
    if not isinstance(spec, Mapping):
        raise ValueError(f"a weight is a number or a schedule mapping, got {spec!r}")
    kind = spec.get("schedule", "constant")
    if kind == "constant":
        return float(spec["value"])
    if kind in ("linear", "cosine"):
        start, end, steps = float(spec["start"]), float(spec["end"]), int(spec["steps"])
        if steps <= 0:
            raise ValueError(f"schedule steps must be positive, got {steps}")
        t = min(max(step, 0) / steps, 1.0)
        if kind == "linear":
            return start + (end - start) * t
        return end + (start - end) * (1 + math.cos(math.pi * t)) / 2
    if kind == "step":
        values, bounds = list(spec["values"]), list(spec["boundaries"])
        if len(values) != len(bounds) + 1 or bounds != sorted(bounds):
            raise ValueError(f"step schedule needs sorted boundaries and one more value: {spec}")
        return float(values[sum(step >= b for b in bounds)])
    raise ValueError(f"unknown schedule {kind!r}; known: ['constant', 'cosine', 'linear', 'step']")


def _term(name: str, spec: WeightSpec) -> tuple[RewardFn, WeightSpec]:
    """(reward fn, weight spec) for one compose term."""
    if isinstance(spec, Mapping) and ("weight" in spec or "args" in spec):
        weight = spec.get("weight", 1.0)
        if "args" in spec:
            factory = REWARD_FACTORIES.get(spec.get("factory", name))
            return factory(**spec["args"]), weight
        return resolve_reward(name), weight
    return resolve_reward(name), spec


class ComposedReward:
    """``sum_k w_k(step) * r_k`` with optional gating; see the module note."""

    def __init__(
        self,
        terms: Mapping[str, tuple[RewardFn, WeightSpec]],
        gate: str | None = None,
        gate_threshold: float = 1.0,
    ) -> None:
        if gate is not None and gate not in terms:
            raise ValueError(f"gate {gate!r} is not one of the terms {sorted(terms)}")
        for _, spec in terms.values():
            schedule_value(spec, 0)  # fail on a bad schedule now, not mid-run
        self.terms, self.gate, self.gate_threshold = dict(terms), gate, gate_threshold
        self.step = 0
        self.__name__ = "composed_reward"

    def set_step(self, step: int) -> None:
        """Tell the reward the current training step (call before scoring each step)."""
        self.step = int(step)

    def weights(self, step: int | None = None) -> dict[str, float]:
        step = self.step if step is None else step
        return {name: schedule_value(spec, step) for name, (_, spec) in self.terms.items()}

    def __call__(self, completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        n = len(completions)
        results = {  # each term held to the reward contract, so a broken one is named
            name: check_scores(fn(completions, samples), samples, name)
            for name, (fn, _) in self.terms.items()
        }
        open_ = [1.0] * n
        if self.gate is not None:
            open_ = [float(v >= self.gate_threshold) for v in results[self.gate]["overall"]]
        overall = [0.0] * n
        out: dict[str, list[float]] = {}
        for name, weight in self.weights().items():
            scores = results[name]
            gate = [1.0] * n if name == self.gate else open_
            overall = [
                o + weight * g * v for o, g, v in zip(overall, gate, scores["overall"], strict=True)
            ]
            out[name] = scores["overall"]
            for key, values in scores.items():
                if key != "overall":
                    out[f"{name}/{key}"] = values
        return {"overall": overall, **out}


def compose_rewards(
    weights: Mapping[str, WeightSpec],
    *,
    gate: str | None = None,
    gate_threshold: float = 1.0,
    rewards: Mapping[str, RewardFn] | None = None,
) -> ComposedReward:
    """A weighted (optionally gated, scheduled) sum of rewards; ``rewards`` supplies functions
    for names that are not registered.

    >>> fn = compose_rewards({"format": 0.1, "math": 0.9}, gate="format")
    >>> s = Sample(id="x", prompt="", answer="2")
    >>> fn(["<answer>2</answer>", "2 <answer>2</answer>"], [s, s])["overall"]
    [1.0, 0.0]
    """
    if not weights:
        raise ValueError("compose_rewards needs at least one term")
    rewards = rewards or {}
    terms = {
        name: (rewards[name], spec) if name in rewards else _term(name, spec)
        for name, spec in weights.items()
    }
    return ComposedReward(terms, gate=gate, gate_threshold=gate_threshold)


class TaskRouter:
    """Scores each sample with the reward of its ``sample.task``; see ``route_by_task``."""

    def __init__(self, routes: Mapping[str, RewardFn], default: RewardFn | None = None) -> None:
        self.routes, self.default = dict(routes), default
        self.__name__ = "routed_reward"

    def set_step(self, step: int) -> None:
        for fn in [*self.routes.values(), self.default]:
            if hasattr(fn, "set_step"):
                fn.set_step(step)

    def route(self, sample: Sample) -> str:
        """The routing key of ``sample`` (its task)."""
        if sample.task not in self.routes and self.default is None:
            raise KeyError(f"no reward for task {sample.task!r}; routed: {sorted(self.routes)}")
        return sample.task

    def __call__(self, completions: list[str], samples: list[Sample]) -> dict[str, list[float]]:
        groups: dict[str, list[int]] = {}
        for i, sample in enumerate(samples):
            groups.setdefault(self.route(sample), []).append(i)
        n = len(completions)
        out: dict[str, list[float]] = {"overall": [0.0] * n}
        for task, idx in groups.items():
            fn = self.routes.get(task, self.default)
            part = [samples[i] for i in idx]
            scores = check_scores(fn([completions[i] for i in idx], part), part, reward_name(fn))
            for key, values in scores.items():
                column = out.setdefault(key, [0.0] * n)  # absent components read 0.0
                for i, v in zip(idx, values, strict=True):
                    column[i] = v
        return out


class SampleRouter(TaskRouter):
    """Scores each sample with the *registered* reward ``name_of(sample)`` names (e.g. a dataset
    row's own ``reward`` field, else its task's reward).

    Only registered names: the name comes from data, and data must never choose code to run,
    so ``module:function`` / ``file.py:function`` (``resolve_reward``'s custom form) is refused
    here; that sample fails (scored 0, counted, named in the warning). Custom reward code comes
    from ``rl.reward`` in the config or on the command line.
    """

    def __init__(self, name_of: Callable[[Sample], str]) -> None:
        super().__init__({})
        self.name_of = name_of

    def route(self, sample: Sample) -> str:
        name = self.name_of(sample)
        if name not in self.routes:
            if name not in REWARDS:
                raise KeyError(
                    f"sample {sample.id!r} names reward {name!r}, which is not registered: data "
                    f"may name only registered rewards {REWARDS.names()}; custom reward code "
                    "comes from rl.reward in the config or on the command line"
                )
            self.routes[name] = REWARDS.get(name)
        return name


def route_by_task(routes: Mapping[str, str | RewardFn], default: str | RewardFn | None = None):
    """A reward that dispatches on ``sample.task``; values are reward names, specs or functions.

    A component one task's reward lacks reads 0.0 for that task's samples; a task without a
    route and no ``default`` raises.

    >>> fn = route_by_task({"math": "math", "count": "count"})
    >>> samples = [Sample(id="a", prompt="", answer="1/2", task="math"),
    ...            Sample(id="b", prompt="", answer="3", task="count")]
    >>> fn(["<answer>0.5</answer>", "<answer>3</answer>"], samples)["accuracy"]
    [1.0, 1.0]
    """

    def get(r: str | RewardFn | None) -> RewardFn | None:
        return resolve_reward(r) if isinstance(r, str) else r

    return TaskRouter({task: get(r) for task, r in routes.items()}, get(default))
