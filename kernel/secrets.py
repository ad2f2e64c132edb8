"""Secret references: how the config names a secret without holding it.

A secret is written as ``env:NAME`` (an environment variable) or
``keyring:service/name`` (the OS keyring) and resolved only at the moment of use, so
the config file and the database never hold one in clear. A literal value is refused
when the config is read.
"""

from __future__ import annotations

import os

from .errors import ConfigError, SecretUnavailable

SCHEMES = ("env", "keyring")


class SecretRef:
    """A reference to a secret, safe to print: ``str()`` shows the reference, never the value."""

    __slots__ = ("scheme", "target")

    def __init__(self, reference: str) -> None:
        scheme, sep, target = reference.partition(":")
        if not sep or scheme not in SCHEMES or not target:
            raise ValueError(
                "a secret must be a reference, not the secret itself: write "
                "'env:VARIABLE_NAME' or 'keyring:service/name'"
            )
        if scheme == "keyring" and "/" not in target:
            raise ValueError("a keyring reference reads 'keyring:service/name'")
        self.scheme = scheme
        self.target = target

    def __str__(self) -> str:
        return f"{self.scheme}:{self.target}"

    def __repr__(self) -> str:
        return f"SecretRef({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretRef) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def available(self) -> bool:
        """Whether the secret can be resolved right now."""
        try:
            self.resolve()
        except SecretUnavailable:
            return False
        return True

    def resolve(self) -> str:
        """Return the secret's value, or raise :class:`SecretUnavailable` saying how to set it."""
        if self.scheme == "env":
            value = os.environ.get(self.target)
            if not value:
                raise SecretUnavailable(
                    f"The environment variable {self.target} is not set; "
                    f"set it before starting outreach (the config refers to 'env:{self.target}')."
                )
            return value
        service, _, name = self.target.partition("/")
        value = _keyring_get(service, name)
        if not value:
            raise SecretUnavailable(
                f"No secret '{name}' for service '{service}' in the OS keyring; store it with "
                f"`keyring set {service} {name}`, or use an 'env:' reference instead."
            )
        return value


def _keyring_get(service: str, name: str) -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise SecretUnavailable("The keyring package is not installed.") from exc
    try:
        return keyring.get_password(service, name)
    except KeyringError as exc:
        raise SecretUnavailable(
            f"The OS keyring is not usable here ({exc}); use an 'env:' reference instead."
        ) from exc


def resolve(value: SecretRef | str | None) -> str | None:
    """Resolve a secret reference, passing None through."""
    if value is None:
        return None
    if isinstance(value, SecretRef):
        return value.resolve()
    raise ConfigError("A secret was given in clear; write it as 'env:NAME' or 'keyring:service/name'.")


def store_in_keyring(service: str, name: str, value: str) -> SecretRef:
    """Keep ``value`` in the OS keyring and return the reference that names it.

    Raise :class:`SecretUnavailable` when this machine has no working keyring (a
    headless Linux box often has none): the value is then stored nowhere.
    """
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError as exc:  # pragma: no cover - keyring is a dependency
        raise SecretUnavailable("The keyring package is not installed.") from exc
    advice = (
        "so the secret cannot be stored safely here. Set an environment variable before starting "
        "outreach and enter its name as env:NAME instead."
    )
    try:
        keyring.set_password(service, name, value)
        stored = keyring.get_password(service, name)
    except KeyringError as exc:
        raise SecretUnavailable(f"The OS keyring refused the secret ({exc}), {advice}") from exc
    if stored != value:
        # The "null" and "fail" backends accept a secret and keep nothing.
        raise SecretUnavailable(f"This machine has no OS keyring that keeps secrets, {advice}")
    return SecretRef(f"keyring:{service}/{name}")
