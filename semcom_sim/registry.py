"""Name -> factory registries with errors that list the known names."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from semcom_sim.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """A registry of factories, e.g. ``SCHEMES.register("jpeg-ldpc")(factory)``.

    Args:
        kind: what the registry holds ("scheme", "task", "channel"), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._factories: dict[str, Callable[..., T]] = {}
        self._help: dict[str, str] = {}
        self._tags: dict[str, frozenset[str]] = {}

    def register(
        self, name: str, help: str = "", tags: tuple[str, ...] = ()
    ) -> Callable[[Callable[..., T]], Callable[..., T]]:
        """Decorator registering ``factory`` under ``name`` with optional ``tags``.

        Tags group entries, e.g. ``"variant"`` marks schemes left out of the default sweep.
        """

        def deco(factory: Callable[..., T]) -> Callable[..., T]:
            if name in self._factories:
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._factories[name] = factory
            doc = (factory.__doc__ or "").strip().splitlines()
            self._help[name] = help or (doc[0] if doc else "")
            self._tags[name] = frozenset(tags)
            return factory

        return deco

    def names(self, exclude_tag: str | None = None) -> list[str]:
        """Sorted names, optionally without those carrying ``exclude_tag``."""
        return sorted(n for n in self._factories if exclude_tag not in self._tags[n])

    def tags(self, name: str) -> frozenset[str]:
        return self._tags[self.check(name)]

    def help(self, name: str) -> str:
        return self._help[self.check(name)]

    def check(self, name: str) -> str:
        if name not in self._factories:
            known = ", ".join(self.names()) or "(none)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known {self.kind}s: {known}")
        return name

    def create(self, name: str, **kwargs) -> T:
        """Build ``name``; keyword arguments that are ``None`` are dropped (timm's habit)."""
        factory = self._factories[self.check(name)]
        return factory(**{k: v for k, v in kwargs.items() if v is not None})

    def __contains__(self, name: object) -> bool:
        return name in self._factories

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
