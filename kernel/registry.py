"""Registries of the objects plugins provide, one per kind.

A registry refuses an object without a name, an object that lacks the methods of
its Protocol, and a second object under a name already taken, and it remembers
which plugin supplied each object so ``outreach plugins`` can show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import DuplicateRegistration, PluginError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named objects of one kind (senders, enrichers...) and the plugins that gave them."""

    def __init__(self, kind: str, protocol: type | None = None) -> None:
        self.kind = kind
        self._protocol = protocol
        self._items: dict[str, T] = {}
        self._owners: dict[str, str] = {}

    def add(self, obj: T, plugin: str) -> None:
        """Register ``obj`` on behalf of ``plugin``."""
        name = getattr(obj, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(
                f"Plugin '{plugin}' registered a {self.kind} without a name; "
                "give the object a non-empty `name` attribute."
            )
        if self._protocol is not None and not isinstance(obj, self._protocol):
            raise PluginError(
                f"Plugin '{plugin}' registered {self.kind} '{name}', which lacks the methods "
                f"of {self._protocol.__name__}."
            )
        if name in self._items:
            raise DuplicateRegistration(
                f"{self.kind.capitalize()} '{name}' is registered by both "
                f"'{self._owners[name]}' and '{plugin}'; disable one of them in the config "
                "(`disabled = [...]`)."
            )
        self._items[name] = obj
        self._owners[name] = plugin

    def get(self, name: str) -> T:
        """The object registered as ``name``; a clear error listing the choices if none."""
        try:
            return self._items[name]
        except KeyError:
            choices = ", ".join(sorted(self._items)) or "none"
            raise PluginError(f"No {self.kind} named '{name}' is installed (available: {choices}).") from None

    def owner(self, name: str) -> str:
        """The plugin that registered ``name``."""
        return self._owners[name]

    def names(self) -> list[str]:
        """Registered names, in registration order."""
        return list(self._items)

    def by_plugin(self, plugin: str) -> list[str]:
        """Names registered by ``plugin``."""
        return [name for name, owner in self._owners.items() if owner == plugin]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[T]:
        return iter(self._items.values())

    def __len__(self) -> int:
        return len(self._items)
