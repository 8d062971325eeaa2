"""Name -> object registries for the choices that scenario files make."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from parallel.core.errors import RegistryError

T = TypeVar("T")


class Registry(Generic[T]):
    """A mapping from names to classes or factories, with helpful errors.

    >>> r: Registry[int] = Registry("colour")
    >>> r.add("red", 1)
    >>> r.get("red")
    1
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> None:
        """Register ``item`` under ``name``; raises ``ValueError`` on a duplicate."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of :meth:`add`."""

        def deco(item: T) -> T:
            self.add(name, item)
            return item

        return deco

    def get(self, name: str) -> T:
        """Look ``name`` up; raises ``RegistryError`` listing the valid names."""
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(sorted(self._items))
            raise RegistryError(f"unknown {self.kind} {name!r}; valid names are: {valid}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))
