"""One tiny generic registry, shared by every pluggable family in mmrft.

Advantage estimators, losses, KL estimators, rewards, tasks, model families and rollout
engines all live behind a ``Registry``: a user adds their own with ``@REGISTRY.register("name")``
and config selects it by name. Unknown names fail with the list of known ones.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping with a decorator for registration.

    >>> ops = Registry("op")
    >>> @ops.register("double")
    ... def double(x): return 2 * x
    >>> ops.get("double")(3)
    6
    >>> ops.get("square")
    Traceback (most recent call last):
    ...
    KeyError: "unknown op 'square'; known: ['double']"
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, *, overwrite: bool = False) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            if name in self._items and not overwrite:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> T:
        if name not in self._items:
            close = difflib.get_close_matches(name, self._items, n=3)
            hint = f" (did you mean {close}?)" if close else ""
            raise KeyError(f"unknown {self.kind} {name!r}; known: {sorted(self._items)}{hint}")
        return self._items[name]

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
