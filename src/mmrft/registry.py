"""One tiny generic registry, shared by every pluggable family in mmrft.

Advantage estimators, losses, KL estimators, rewards, tasks, model families and rollout
engines all live behind a ``Registry``: a user adds their own with ``@REGISTRY.register("name")``
and config selects it by name. Unknown names fail with the list of known ones and the nearest
names ("did you mean").

An entry may declare what it needs, so callers never read its signature: ``options`` are the
keyword arguments it takes from the config (``mmrft.build`` passes exactly those), ``needs``
names inputs the loop must provide (``"critic"``, ``"greedy_baseline"``, ...), ``traits`` names
properties the loop may rely on (a policy loss that is ``"advantage_weighted"``, ...).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object and what it declared: the options it takes, what it needs and the
    properties (traits) it promises."""

    obj: T
    options: tuple[str, ...] = ()
    needs: frozenset[str] = frozenset()
    traits: frozenset[str] = frozenset()


def unknown_name_message(kind: str, name: object, known: Iterable[str]) -> str:
    """``unknown <kind> 'x'; known: [...] (did you mean [...]?)`` — one wording for every check.

    >>> unknown_name_message("op", "dubble", ["double", "half"])
    "unknown op 'dubble'; known: ['double', 'half'] (did you mean ['double']?)"
    """
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=3)
    hint = f" (did you mean {close}?)" if close else ""
    return f"unknown {kind} {name!r}; known: {known}{hint}"


class Registry(Generic[T]):
    """A name -> object mapping with a decorator for registration.

    >>> ops = Registry("op")
    >>> @ops.register("double", options=("factor",), needs=("input",), traits=("linear",))
    ... def double(x, factor=2): return factor * x
    >>> ops.get("double")(3)
    6
    >>> e = ops.entry("double")
    >>> e.options, sorted(e.needs), sorted(e.traits)
    (('factor',), ['input'], ['linear'])
    >>> ops.get("dubble")
    Traceback (most recent call last):
    ...
    KeyError: "unknown op 'dubble'; known: ['double'] (did you mean ['double']?)"
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, Entry[T]] = {}

    def register(
        self,
        name: str,
        *,
        overwrite: bool = False,
        options: Iterable[str] = (),
        needs: Iterable[str] = (),
        traits: Iterable[str] = (),
    ) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items and not overwrite:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = Entry(obj, tuple(options), frozenset(needs), frozenset(traits))
            return obj

        return decorator

    def entry(self, name: str) -> Entry[T]:
        if name not in self._items:
            raise KeyError(unknown_name_message(self.kind, name, self._items))
        return self._items[name]

    def get(self, name: str) -> T:
        return self.entry(name).obj

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
