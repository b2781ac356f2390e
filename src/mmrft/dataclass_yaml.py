"""Strict nested dataclasses <-> YAML, with dotted ``key=value`` overrides.

The generic machinery behind ``mmrft.config`` (which holds the project schema); any module
that wants a typed, documented config section can reuse it.

Design notes:

* Strict on purpose: an unknown key, a wrong type or a bad choice is a ``ConfigError`` naming
  the full dotted key, and unknown keys come with the nearest valid keys searched over the whole
  schema (so ``lr`` written at the wrong level still finds ``rl.lr``). A typo must never fall
  back silently to a default and waste a training run.
* Missing keys take the dataclass default, so a YAML file lists only what it changes.
* Overrides are parsed as YAML (``rl.lr=3e-4``, ``run.resume=false``, ``data.count_range=[1,6]``,
  ``algorithm.dual_clip=null``), except that ``str`` fields take the text verbatim, so
  ``run.out_dir=2024-01-01`` stays a string instead of becoming a date.
* PyYAML follows YAML 1.1, where ``3e-4`` (no dot) is a *string*; float fields accept such
  float-looking strings, and ints. Nothing else is coerced: a bool field never takes ``"yes"``
  or ``1``, an int field never takes ``2.0``.
* The docstring written under each field is the documentation: ``field_docs`` reads it back
  with ``ast`` and ``to_yaml`` writes it as a comment above the key.
* A ``str`` field that names a registry entry declares ``field(metadata={"choices": fn})``,
  ``fn()`` returning the valid names: a value set in YAML or an override is checked against
  them at load ("did you mean"), and the YAML comment lists them, so docs never drift from
  the registry. ``fn`` is called only for values actually set (registries import torch).

Supported annotations: ``int``, ``float``, ``bool``, ``str``, ``X | None``, ``Literal[...]``,
``list[T]``, ``tuple[T, ...]``, ``tuple[A, B]``, ``dict[str, T]``, nested dataclasses, ``Any``.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import re
import textwrap
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from mmrft.registry import unknown_name_message

T = TypeVar("T")
CHOICES = "choices"
"""Field-metadata key of a zero-argument callable returning a ``str`` field's valid values."""


class ConfigError(ValueError):
    """A config that cannot be built; the message names the full dotted key at fault.

    ``key``/``reason`` are set for errors about one key's value, so a section can re-raise a
    ``__post_init__`` error with its own dotted prefix.
    """

    def __init__(self, message: str, key: str | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.reason = reason


# --------------------------------------------------------------------------------------------
# Validation helpers for __post_init__
# --------------------------------------------------------------------------------------------


def check(ok: bool, key: str, reason: str) -> None:
    """Raise ``ConfigError`` about field ``key`` unless ``ok``.

    Give the bare field name; ``from_dict`` adds the section, so the user reads
    ``config key 'rollout.group_size' must be >= 2, got 1``.
    """
    if not ok:
        raise ConfigError(f"config key '{key}' {reason}", key=key, reason=reason)


def at_least(obj: Any, low: float, *names: str) -> None:
    """``check`` that each named field of ``obj`` is >= ``low``."""
    for name in names:
        value = getattr(obj, name)
        check(value >= low, name, f"must be >= {low}, got {value}")


def positive(obj: Any, *names: str) -> None:
    """``check`` that each named field of ``obj`` is > 0."""
    for name in names:
        value = getattr(obj, name)
        check(value > 0, name, f"must be > 0, got {value}")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load(cls: type[T], path: str | Path | None, overrides: Sequence[str] = ()) -> T:
    """Read YAML ``path`` (``None``: all defaults), apply ``key=value`` overrides, build ``cls``."""
    data: Any = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        data = _read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping, got {_describe(data)}")
    return from_dict(cls, apply_overrides(data, overrides, cls))


MAX_YAML_VALUES = 100_000
"""Most values a config file may hold once its YAML aliases are copied out. A config has a few
hundred; an alias bomb (``&a [x, x, ...]`` then ``[*a, *a, ...]``, nested) would otherwise take
minutes and gigabytes before any key is checked."""


def _read_yaml(path: Path) -> Any:
    """The plain data in YAML file ``path``, or ``ConfigError`` naming the file and line.

    ``safe_load`` builds only plain data: a Python tag such as ``!!python/object/apply:os.system``
    is refused (a config file may come from anywhere and must not run code). So are alias bombs,
    self-referencing aliases and nesting too deep to walk.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if _values(data, {}) > MAX_YAML_VALUES:
            raise ConfigError(
                f"config file {path}: refused: more than {MAX_YAML_VALUES} values once its "
                "aliases (*name) are expanded, or an alias that contains itself"
            )
        return data
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"config file {path} is not UTF-8 text ({e.reason} at byte {e.start})"
        ) from None
    except RecursionError:
        raise ConfigError(f"config file {path}: refused: nested too deeply") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e)
        if isinstance(e, yaml.constructor.ConstructorError):
            problem = f"refused: {problem} (only plain YAML is read, no Python tags)"
        else:
            problem = f"not valid YAML: {problem}"
        raise ConfigError(f"config file {where}: {problem}") from None


def _values(node: Any, memo: dict[int, int | None]) -> int:
    """How many values ``node`` holds with shared (aliased) parts counted at each use; past
    ``MAX_YAML_VALUES`` (or for a list or mapping that contains itself) the count stops there."""
    if not isinstance(node, (dict, list)):
        return 1
    if id(node) in memo:  # None: still being counted, so it contains itself
        return memo[id(node)] or MAX_YAML_VALUES + 1
    memo[id(node)] = None
    total = 1
    for child in node.values() if isinstance(node, dict) else node:
        total += _values(child, memo)
        if total > MAX_YAML_VALUES:
            break
    memo[id(node)] = total
    return total


def apply_overrides(
    data: dict[str, Any], overrides: Sequence[str], cls: type | None = None
) -> dict[str, Any]:
    """A copy of ``data`` with each dotted ``key=value`` override set.

    Values are parsed as YAML; with ``cls`` given, ``str`` fields take the text verbatim.
    Unknown keys are left in for ``from_dict`` to report with suggestions.

    >>> apply_overrides({"rl": {"lr": 0.1}}, ["rl.lr=0.2", "run.seed=3"])
    {'rl': {'lr': 0.2}, 'run': {'seed': 3}}
    """
    data = _copy_tree(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like key=value, e.g. rl.lr=3e-4")
        node = data
        parts = key.split(".")
        for i, part in enumerate(parts[:-1]):
            if node.get(part) is None:
                node[part] = {}
            if not isinstance(node[part], dict):
                section = ".".join(parts[: i + 1])
                raise ConfigError(f"override {item!r}: config key '{section}' is not a section")
            node = node[part]
        node[parts[-1]] = _parse_override_value(key, raw, cls)
    return data


def _parse_override_value(key: str, raw: str, cls: type | None) -> Any:
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as e:
        raise ConfigError(f"override '{key}={raw}': cannot parse value as YAML ({e})") from None
    tp = _type_at(cls, key) if cls is not None else None
    str_field = tp is str or (_is_optional(tp) and str in typing.get_args(tp))
    if str_field and not isinstance(value, str) and not (value is None and tp is not str):
        return raw  # run.out_dir=2024-01-01 or model.name_or_path=123 stay strings
    return value


class _UnknownKey(Exception):
    """Raised deep in ``_build``; ``from_dict`` turns it into a message with suggestions."""

    def __init__(self, key: str, section: str, valid: list[str]) -> None:
        super().__init__(key)
        self.key, self.section, self.valid = key, section, valid


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build dataclass ``cls`` from nested plain data, strictly (see the module notes).

    ``path`` is the dotted prefix of ``data`` within a larger config, used in error messages.
    """
    try:
        return _build(cls, data, path)
    except _UnknownKey as e:
        candidates = [_join(path, k) for k in schema_keys(cls)]
        close = suggest_keys(e.key, candidates)
        if close:
            hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        else:
            hint = f"valid keys{f' in {e.section!r}' if e.section else ''}: {e.valid}"
        raise ConfigError(f"unknown config key '{e.key}'; {hint}") from None


def _build(cls: type, data: Any, path: str) -> Any:
    if data is None:
        data = {}  # a YAML section with every key commented out
    if not isinstance(data, dict):
        where = f"config section '{path}'" if path else "config"
        raise ConfigError(f"{where} expects a mapping, got {_describe(data)}", key=path or None)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            raise _UnknownKey(_join(path, str(key)), path, list(fields))
    kwargs = {k: _coerce(hints[k], v, _join(path, k)) for k, v in data.items()}
    for name, value in kwargs.items():
        choices = fields[name].metadata.get(CHOICES)
        if choices is not None and isinstance(value, str) and value not in choices():
            key = _join(path, name)
            raise ConfigError(f"config key '{key}': {unknown_name_message(name, value, choices())}")
    for name, f in fields.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if name not in kwargs and no_default:
            raise ConfigError(f"missing required config key '{_join(path, name)}'")
    try:
        return cls(**kwargs)
    except ConfigError as e:
        if e.key is None or e.reason is None or not path:
            raise
        key = _join(path, e.key)
        raise ConfigError(f"config key '{key}' {e.reason}", key=key, reason=e.reason) from None


def _coerce(tp: Any, value: Any, key: str) -> Any:
    """Check ``value`` against annotation ``tp``; return it, converted only where documented."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, key)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, key)
            except ConfigError as e:
                if e.key != key:
                    raise  # an error inside a list or section says more than "expects X | Y"
        raise _type_error(key, tp, value)
    if origin is Literal:
        if any(value == a and type(value) is type(a) for a in args):
            return value
        raise _type_error(key, tp, value)
    if origin in (list, tuple, dict):
        return _coerce_container(tp, value, key)
    return _coerce_scalar(tp, value, key)


_FLOAT_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


def _coerce_scalar(tp: Any, value: Any, key: str) -> Any:
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _FLOAT_RE.match(value.strip()):
            return float(value)  # YAML 1.1 reads 3e-4 (no dot) as a string
        raise _type_error(key, tp, value)
    if tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is type(None):
        ok = value is None
    elif tp in (bool, str):
        ok = isinstance(value, tp)
    else:
        raise TypeError(f"config key '{key}': unsupported annotation {tp!r}")
    if not ok:
        raise _type_error(key, tp, value)
    return value


def _coerce_container(tp: Any, value: Any, key: str) -> Any:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is dict:
        if not isinstance(value, dict):
            raise _type_error(key, tp, value)
        key_tp, val_tp = args or (str, Any)
        for k in value:
            _coerce(key_tp, k, f"{key} (a key)")
        return {k: _coerce(val_tp, v, f"{key}.{k}") for k, v in value.items()}
    if not isinstance(value, (list, tuple)):
        raise _type_error(key, tp, value)
    if origin is list:
        item_tps = [args[0] if args else Any] * len(value)
    elif len(args) == 2 and args[1] is Ellipsis:
        item_tps = [args[0]] * len(value)
    elif args and len(args) != len(value):
        msg = f"config key '{key}' expects {_type_name(tp)} ({len(args)} items), got {value!r}"
        raise ConfigError(msg, key=key)
    else:
        item_tps = list(args) if args else [Any] * len(value)
    items = [
        _coerce(t, v, f"{key}[{i}]") for i, (t, v) in enumerate(zip(item_tps, value, strict=True))
    ]
    return items if origin is list else tuple(items)


def _type_error(key: str, tp: Any, value: Any) -> ConfigError:
    msg = f"config key '{key}' expects {_type_name(tp)}, got {_describe(value)}"
    return ConfigError(msg, key=key)


def _describe(value: Any) -> str:
    return "null" if value is None else f"{type(value).__name__} ({value!r})"


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is type(None):
        return "None"
    if origin in (Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is Literal:
        return f"one of {list(args)}"
    if origin is not None:
        inner = ", ".join("..." if a is Ellipsis else _type_name(a) for a in args)
        return f"{origin.__name__}[{inner}]"
    return getattr(tp, "__name__", repr(tp))


def _is_optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType) and type(None) in typing.get_args(tp)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _copy_tree(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy_tree(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy_tree(v) for v in data]
    return data


def _type_at(cls: type, dotted: str) -> Any:
    """The annotation of a dotted key in the schema, or ``None`` if there is no such key."""
    tp: Any = cls
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(tp) or part not in typing.get_type_hints(tp):
            return None
        tp = typing.get_type_hints(tp)[part]
    return tp


# --------------------------------------------------------------------------------------------
# Suggestions for unknown keys
# --------------------------------------------------------------------------------------------


def schema_keys(cls: type, prefix: str = "") -> list[str]:
    """Every dotted key of dataclass ``cls``: sections and leaves, in declaration order."""
    hints = typing.get_type_hints(cls)
    keys = []
    for f in dataclasses.fields(cls):
        key = _join(prefix, f.name)
        keys.append(key)
        if dataclasses.is_dataclass(hints[f.name]):
            keys.extend(schema_keys(hints[f.name], key))
    return keys


def suggest_keys(
    key: str, candidates: Sequence[str], n: int = 3, cutoff: float = 0.75
) -> list[str]:
    """Nearest valid dotted keys to an unknown ``key``, best first, same section first on ties.

    A candidate scores the best of: similarity of the whole dotted key (typos, also in the
    section name); similarity of the last component alone (right name, wrong level); 1.0 for
    matching initials (``learning_rate`` -> ``lr``, ``mnt`` -> ``max_new_tokens``); 0.95 for a
    prefix (``temp`` -> ``temperature``); just above all of them, the exact last component
    (``lr`` -> ``rl.lr`` before ``model.lora_rank``). Only candidates within 0.1 of the best are kept, so
    one clear match is not padded with noise.

    >>> suggest_keys("rl.lerning_rate", ["rl.lr", "rl.steps", "sft.lr"])
    ['rl.lr', 'sft.lr']
    """
    leaf = key.rsplit(".", 1)[-1]
    section = key.rpartition(".")[0]
    scored = []
    for order, cand in enumerate(candidates):
        cand_leaf = cand.rsplit(".", 1)[-1]
        score = max(
            1.01 if leaf == cand_leaf else 0.0,  # the exact name beats every fuzzy match
            difflib.SequenceMatcher(None, key, cand).ratio(),
            difflib.SequenceMatcher(None, leaf, cand_leaf).ratio(),
            1.0 if _initials(leaf) == cand_leaf or leaf == _initials(cand_leaf) else 0.0,
            0.95 if len(leaf) >= 3 and cand_leaf.startswith(leaf) else 0.0,
        )
        if score >= cutoff:
            scored.append((-score, cand.rpartition(".")[0] != section, order, cand))
    scored.sort()
    return [c for s, _, _, c in scored if -s >= -scored[0][0] - 0.1][:n]


def _initials(name: str) -> str:
    parts = [p for p in name.split("_") if p]
    return "".join(p[0] for p in parts) if len(parts) > 1 else "\0"  # "\0" never matches a key


# --------------------------------------------------------------------------------------------
# Saving: plain data and commented YAML
# --------------------------------------------------------------------------------------------


def to_dict(cfg: Any) -> Any:
    """Plain nested data (dicts, lists, scalars) that ``from_dict`` turns back into ``cfg``."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {k: to_dict(v) for k, v in cfg.items()}
    return cfg


def to_yaml(cfg: Any, header: str | None = None) -> str:
    """YAML text of dataclass ``cfg``, each field's docstring as a comment above its key."""
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    _render(cfg, 0, lines)
    return "\n".join(lines).strip("\n") + "\n"


def save(cfg: Any, path: str | Path, header: str | None = None) -> Path:
    """Write ``cfg`` as commented YAML to ``path``; ``load(type(cfg), path)`` gives it back."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(cfg, header))
    return path


def _render(obj: Any, indent: int, lines: list[str]) -> None:
    pad = " " * indent
    docs = field_docs(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            if indent == 0:
                lines.append("")  # a blank line between top-level sections
            lines.extend(_comment(docs.get(f.name, ""), pad))
            lines.append(f"{pad}{f.name}:")
            _render(value, indent + 2, lines)
        else:
            doc = docs.get(f.name, "")
            if CHOICES in f.metadata:  # generated from the registry, never hand-listed
                doc += f" Choices: {', '.join(f.metadata[CHOICES]())}."
            lines.extend(_comment(doc, pad))
            lines.append(f"{pad}{f.name}: {_flow_yaml(to_dict(value))}")


def _flow_yaml(value: Any) -> str:
    """One-line YAML for a value: ``0.0003``, ``null``, ``[1, 6]``, ``'yes'``."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**9)
    return text.removesuffix("\n...\n").strip()


def _comment(doc: str, pad: str) -> list[str]:
    width = max(40, 98 - len(pad))
    text = " ".join(doc.split())  # hyphens do not break: "token-mean" is one name
    return [f"{pad}# {line}" for line in textwrap.wrap(text, width, break_on_hyphens=False)]


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under it in the class body (base classes included)."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = textwrap.dedent(inspect.getsource(klass))
        except (OSError, TypeError):
            continue  # no source available (a frozen app): comments are a nicety
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        for node, nxt in zip(body, body[1:], strict=False):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return docs
