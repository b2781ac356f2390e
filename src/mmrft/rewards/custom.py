"""User rewards from ``package.module:function`` or ``path/to/file.py:function``.

Design note: a custom reward follows the same contract as the built-ins,
``fn(completions, samples) -> {"overall": [...], ...}``. ``load_reward`` imports it and checks
what it can before the first step (the target exists, is callable, and accepts two positional
arguments), failing with one clear line otherwise. ``resolve_reward`` is the single entry point
that turns any reward name a config or the CLI may hold into a function: a registered name, or
a custom spec (anything containing ``:``).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path

from mmrft.rewards.base import REWARDS, RewardFn


def _load_module(target: str, spec: str):
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"custom reward {spec!r}: no file {str(path)!r}")
        name = f"mmrft_custom_reward_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise ValueError(f"custom reward {spec!r}: cannot import {str(path)!r}")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module  # lets the file's dataclasses and pickling find it
        module_spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(target)
    except ModuleNotFoundError as e:
        raise ValueError(f"custom reward {spec!r}: cannot import module {target!r} ({e})") from e


def load_reward(spec: str) -> RewardFn:
    """The function named by ``module:function`` or ``file.py:function``, checked.

    >>> load_reward("mmrft.rewards.format:format_reward").__name__
    'format_reward'
    >>> load_reward("mmrft.rewards.format:nope")
    Traceback (most recent call last):
    ...
    ValueError: custom reward 'mmrft.rewards.format:nope': module 'mmrft.rewards.format' has no attribute 'nope'; it defines: ['format_reward']
    """
    target, sep, attr = spec.rpartition(":")
    if not sep or not target or not attr:
        raise ValueError(
            f"custom reward {spec!r}: expected 'package.module:function' or "
            "'path/to/file.py:function'"
        )
    module = _load_module(target, spec)
    if not hasattr(module, attr):
        public = sorted(
            n
            for n, v in vars(module).items()
            if callable(v)
            and not n.startswith("_")
            and not inspect.isclass(v)
            and getattr(v, "__module__", None) == module.__name__
        )
        raise ValueError(
            f"custom reward {spec!r}: module {target!r} has no attribute {attr!r}; "
            f"it defines: {public}"
        )
    fn = getattr(module, attr)
    if not callable(fn):
        raise ValueError(f"custom reward {spec!r}: {attr!r} is a {type(fn).__name__}, not callable")
    try:
        inspect.signature(fn).bind([], [])
    except TypeError as e:
        raise ValueError(
            f"custom reward {spec!r}: must accept (completions, samples), but {e}"
        ) from e
    except ValueError:  # builtins without a signature: trust them
        pass
    return fn


def resolve_reward(name: str) -> RewardFn:
    """A registered reward by name, or a custom one if ``name`` contains ``:``.

    >>> resolve_reward("format").__name__, resolve_reward("mmrft.rewards.math:math_reward").__name__
    ('format_reward', 'math_reward')
    """
    return load_reward(name) if ":" in name else REWARDS.get(name)
