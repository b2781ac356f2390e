"""One entry point from a config value to a reward function: ``build_reward(spec)``.

Design note: ``resolve_reward`` takes a name; rewards that need arguments (the judge, a reward
model, length penalties, pinned box rewards) are built by the factories in
``REWARD_FACTORIES``, and weighted sums by ``compose_rewards``. ``build_reward`` accepts all
three shapes a config can hold, so nothing else needs to know which one it got:

* ``"math"`` or ``"pkg.module:fn"`` / ``"file.py:fn"``: exactly ``resolve_reward``;
* ``{"factory": "judge", "args": {"model": "path/to/judge", "mode": "yes_no"}}``;
* ``{"compose": {"math": 0.9, "judge": {"weight": 0.1, "args": {...}}}, "gate": "format"}``:
  ``compose_rewards`` (its terms use factories the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmrft.rewards.base import RewardFn
from mmrft.rewards.compose import REWARD_FACTORIES, compose_rewards
from mmrft.rewards.custom import resolve_reward


def build_reward(spec: str | Mapping[str, Any]) -> RewardFn:
    """The reward a config value names (see the module note).

    >>> build_reward("format").__name__
    'format_reward'
    >>> build_reward({"factory": "repetition", "args": {"n": 2}}).__name__
    'repetition_reward'
    >>> build_reward({"compose": {"format": 0.1, "math": 0.9}}).__name__
    'composed_reward'
    >>> build_reward({"factory": "judge"})
    Traceback (most recent call last):
    ...
    ValueError: reward spec {'factory': 'judge'}: 'args' must be a mapping of the factory's arguments
    """
    if isinstance(spec, str):
        return resolve_reward(spec)
    if not isinstance(spec, Mapping):
        raise ValueError(f"reward spec must be a name or a mapping, got {type(spec).__name__}")
    keys = set(spec)
    if "factory" in spec:
        extra = keys - {"factory", "args"}
        if extra:
            raise ValueError(f"reward spec {dict(spec)}: unknown keys {sorted(extra)}")
        args = spec.get("args")
        if not isinstance(args, Mapping):
            raise ValueError(
                f"reward spec {dict(spec)}: 'args' must be a mapping of the factory's arguments"
            )
        factory = REWARD_FACTORIES.get(str(spec["factory"]))
        try:
            return factory(**args)
        except TypeError as e:  # a misspelt or missing argument: name the factory
            raise ValueError(f"reward factory {spec['factory']!r}: {e}") from e
    if "compose" in spec:
        extra = keys - {"compose", "gate", "gate_threshold"}
        if extra:
            raise ValueError(f"reward spec: unknown keys {sorted(extra)} beside 'compose'")
        return compose_rewards(
            spec["compose"],
            gate=spec.get("gate"),
            gate_threshold=float(spec.get("gate_threshold", 1.0)),
        )
    raise ValueError(
        f"reward spec {dict(spec)}: expected a 'factory' (with 'args') or a 'compose' mapping"
    )
