"""One registry mechanism for every pluggable kind (routers, workload sources, fault types, policies).

A registry maps a YAML name to a class or factory. Registering a name twice raises; looking up an
unknown name raises RegistryError listing the valid names (with a did-you-mean suggestion).
"""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from chaos.errors import RegistryError, expected_one_of

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry for one pluggable kind; `kind` names it in error messages ("router policy")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@ROUTERS.register("round_robin")`."""
        def deco(entry: T) -> T:
            if name in self._entries:
                raise RegistryError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = entry
            return entry
        return deco

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise RegistryError(f"unknown {self.kind}: {expected_one_of(name, self._entries)}") from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
