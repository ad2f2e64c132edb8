"""Changing ``outreach.toml`` in place: only the keys that change move, the user's comments stay.

The Settings page edits a few keys (who sends, the postal address, the public URL, the
mailboxes, the sender and its server). :func:`edit_config` applies those changes to the
file's text with tomlkit, which round-trips comments, key order and layout;
:func:`write_config` replaces the file atomically, so a failed write leaves the old file
whole. :func:`config_target` says which file the changes belong in.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import tomlkit
from tomlkit.items import AoT

from .config import Settings, default_config_path, settings_as_dict
from .errors import ConfigError

#: A key path in the file, such as ``("sender", "smtp", "host")``.
KeyPath = tuple[str, ...]


class ConfigChanges(msgspec.Struct, kw_only=True):
    """What to change in the file.

    ``values`` sets each key path to its value; a value of None removes the key.
    ``mailboxes``, when given, is the whole ``[[mailboxes]]`` list in order: an entry
    whose ``name`` (or ``previous_name``) matches a table in the file updates that table
    in place, keeping its other keys and comments; a table with no entry is removed.
    """

    values: dict[KeyPath, Any] = {}
    mailboxes: list[dict[str, Any]] | None = None


def config_target(settings: Settings) -> Path:
    """The file that changes made in the browser are written to.

    The file the settings were read from; with no file at all, the one outreach looks
    for first (the user config directory). Settings that came from anywhere else (a
    test, a script) have no file to write.
    """
    source = settings.source
    if source is None:
        return default_config_path()
    path = Path(source)
    if not path.is_file():
        raise ConfigError(
            f"These settings were not read from a file ({source}), so there is no file to save them in; "
            "start outreach with --config PATH to edit a file."
        )
    return path


def read_config_text(path: Path) -> str:
    """The file's text, or an empty document when it does not exist yet."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise ConfigError(f"Cannot read {path} ({exc.strerror}); check its permissions.") from None


def _table(parent: Any, key: str) -> Any:
    """The table ``key`` under ``parent``, created when missing."""
    if key not in parent:
        parent[key] = tomlkit.table()
    child = parent[key]
    if not isinstance(child, Mapping):
        raise ConfigError(f"'{key}' in the config is a value, not a table; fix the file by hand.")
    return child


def _set(document: Any, path: KeyPath, value: Any) -> None:
    *parents, key = path
    if value is None:
        node = document
        for name in parents:
            if name not in node:
                return
            node = node[name]
        if key in node:
            del node[key]
        return
    node = document
    for name in parents:
        node = _table(node, name)
    node[key] = value


def _fill(table: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if value is None:
            if key in table:
                del table[key]
        else:
            table[key] = value


def _mailboxes(document: Any, entries: Sequence[dict[str, Any]]) -> None:
    """Make ``[[mailboxes]]`` hold ``entries``: tables edited in place, new ones added, gone ones removed."""
    wanted = []
    for entry in entries:
        values = dict(entry)
        previous = values.pop("previous_name", None) or values.get("name")
        wanted.append((str(previous), values))
    existing = document.get("mailboxes")
    if not isinstance(existing, AoT):
        if existing is not None:
            del document["mailboxes"]
        if not wanted:
            return
        existing = tomlkit.aot()
        document["mailboxes"] = existing
        existing = document["mailboxes"]
    matched = {previous for previous, _ in wanted}
    for index in reversed(range(len(existing))):
        if str(existing[index].get("name")) not in matched:
            del existing[index]
    by_name = {str(table.get("name")): table for table in existing}
    for previous, values in wanted:
        table = by_name.get(previous)
        if table is None:
            table = tomlkit.table()
            _fill(table, values)
            table.add(tomlkit.nl())  # a blank line before whatever follows, as a person writes it
            existing.append(table)
        else:
            _fill(table, values)
    if not len(existing):
        del document["mailboxes"]


def edit_config(text: str, changes: ConfigChanges) -> str:
    """``text`` with ``changes`` applied; everything else (comments, order, other keys) kept."""
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.TOMLKitError as exc:
        raise ConfigError(f"The config file is not valid TOML ({exc}); fix it by hand first.") from None
    for path, value in changes.values.items():
        _set(document, path, value)
    if changes.mailboxes is not None:
        _mailboxes(document, changes.mailboxes)
    rendered = tomlkit.dumps(document)
    return rendered if rendered.endswith("\n") or not rendered else rendered + "\n"


def write_config(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` atomically (a temporary file renamed over it), keeping its mode.

    Raise :class:`ConfigError` saying why when the file or its folder cannot be written;
    the old file is then untouched.
    """
    try:
        # A file without write bits was made read-only on purpose: honour that even for root,
        # whom the system would let through.
        if path.exists() and (not os.access(path, os.W_OK) or not path.stat().st_mode & 0o222):
            raise PermissionError(13, "the file is read-only")
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
        handle, temporary = tempfile.mkstemp(prefix=".outreach-", suffix=".toml", dir=path.parent)
    except OSError as exc:
        raise ConfigError(
            f"Cannot write {path} ({exc.strerror or exc}). Nothing was changed; make the file writable, "
            "or copy the settings below into it by hand and restart outreach."
        ) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise ConfigError(
            f"Cannot write {path} ({exc.strerror or exc}). Nothing was changed; copy the settings below "
            "into it by hand and restart outreach."
        ) from None


def _without_nulls(value: Any) -> Any:
    """TOML has no null: drop the keys whose value is None."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


def settings_as_toml(settings: Settings) -> str:
    """The settings in effect as the TOML a person writes (secrets as references, unset keys left out)."""
    data = settings_as_dict(settings)
    data.pop("source", None)
    return tomlkit.dumps(_without_nulls(data))
