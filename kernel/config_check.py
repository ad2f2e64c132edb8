"""The checks of the whole configuration that need the plugins: what a typo-proof decode cannot see.

:func:`~outreach.kernel.config.parse_settings` checks the kernel's own tables. The
``[plugins.<name>]`` and ``[sender.<name>]`` tables belong to plugins, which read them
when they need them (often on a first send or search), and the sender names in
``backend`` and ``failover`` mean something only once the plugins are loaded. Here,
with the plugins loaded, :func:`config_problems` finds every problem at once:

- a secret written in clear under a secret-looking key (``password``, ``client_secret``,
  ``api_key``...) anywhere in the file;
- a key a plugin's table does not take (each plugin declares its tables and their
  Structs with the ``register_config_tables`` hook), including each mailbox's
  ``[mailboxes.settings]`` overrides of its senders' tables, and a table of a plugin
  or sender that is not installed;
- a ``backend`` or ``failover`` that names no installed sender.

``Runtime.open`` refuses to start with any of them and ``outreach config show`` lists
them. Paths read as in the file, with list entries by position from 0:
``mailboxes.0.backend``, ``plugins.imap.accounts.0.password``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec

from .config import MailboxSettings, Settings, _dec_hook, _enc_hook
from .context import mailbox_overrides
from .errors import ConfigError, OutreachError
from .plugins import PluginHost
from .secrets import SecretRef

#: A path inside one table: keys, and positions in lists.
Segments = list[str | int]

#: Decoding one table stops after this many problems (each pass removes one wrong key).
_MAX_PER_TABLE = 50
#: Put where a secret was written in clear, so decoding reports the table's other problems.
_PLACEHOLDER = "env:OUTREACH_SECRET_WRITTEN_IN_CLEAR"

_SECRET_WORDS = frozenset(
    {"password", "passwd", "pass", "pwd", "passphrase", "secret", "token", "credential", "credentials"}
)
_SECRET_ENDINGS = ("api_key", "apikey", "private_key", "secret_key", "access_key")

_ERROR = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[([^\]]*)\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]+)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<key>[^`]+)`$")


class ConfigProblem(msgspec.Struct, frozen=True):
    """One thing wrong in the configuration: where (``path``) and what (``message``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"'{self.path}': {self.message}"


def config_problems(settings: Settings, plugins: PluginHost) -> list[ConfigProblem]:
    """Every problem of ``settings`` that only the loaded ``plugins`` can tell, each once.

    Literal secrets come first, then the senders named, then the tables of plugins and senders.
    """
    problems = [
        *_secret_problems(settings),
        *_backend_problems(settings, plugins),
        *_plugin_table_problems(settings, plugins),
        *_sender_table_problems(settings, plugins),
    ]
    return list(dict.fromkeys(problems))  # one mailbox after another may find the same one


def refuse_problems(settings: Settings, plugins: PluginHost) -> None:
    """Raise :class:`ConfigError` listing every problem of ``settings`` (start-up and the
    Settings page refuse the same way, with the same messages)."""
    problems = config_problems(settings, plugins)
    if problems:
        raise ConfigError(describe_problems(problems, settings.source))


def describe_problems(problems: list[ConfigProblem], source: str | None) -> str:
    """The problems as one message, one numbered line each."""
    count = len(problems)
    head = f"{source or 'The configuration'} has {count} problem{'' if count == 1 else 's'}:"
    return head + "".join(f"\n  {number}. {problem}" for number, problem in enumerate(problems, 1))


# -- secrets --------------------------------------------------------------------------


def is_secret_key(key: str) -> bool:
    """Whether a key's name says its value is a secret (``password``, ``client_secret``, ``apiKey``).

    Only the last word counts, so ``token_url`` and ``bypass`` are not secrets.
    """
    snake = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower().replace("-", "_")
    return snake.rsplit("_", 1)[-1] in _SECRET_WORDS or snake.endswith(_SECRET_ENDINGS)


def _literal(value: Any) -> bool:
    """Whether ``value`` is a secret itself rather than a reference to one."""
    if isinstance(value, bool) or value is None or value == "":
        return False
    if isinstance(value, int | float):
        return True
    if not isinstance(value, str):
        return False
    try:
        SecretRef(value)
    except ValueError:
        return True
    return False


#: Keys whose value may be the path of a file that holds the secret (a DKIM key's PEM).
_KEY_FILE_ENDINGS = ("private_key",)


def _names_a_key_file(path: str, value: Any) -> bool:
    """Whether ``value`` at ``path`` is the path of a key file, which is no secret itself."""
    if not isinstance(value, str) or not path.rsplit(".", 1)[-1].endswith(_KEY_FILE_ENDINGS):
        return False
    if "\n" in value or "-----" in value:  # a PEM pasted in: the secret itself
        return False
    return value.startswith(("/", "~", "./", "../")) or value.endswith((".pem", ".key"))


def _literal_paths(value: Any, path: str, secret: bool = False) -> Iterator[str]:
    """The path of every literal under a secret-looking key in ``value``."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _literal_paths(item, f"{path}.{key}" if path else str(key), is_secret_key(str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _literal_paths(item, f"{path}.{index}", secret)
    elif secret and _literal(value) and not _names_a_key_file(path, value):
        yield path


def _scrub(value: Any, secret: bool = False) -> Any:
    """A copy of ``value`` with each literal secret replaced by a placeholder reference."""
    if isinstance(value, dict):
        return {key: _scrub(item, is_secret_key(str(key))) for key, item in value.items()}
    if isinstance(value, list):
        return [_scrub(item, secret) for item in value]
    return _PLACEHOLDER if secret and _literal(value) else value


def _file_data(settings: Settings) -> dict[str, Any]:
    """The settings as plain data shaped like the file (``[sender.<name>]`` under ``sender``)."""
    data = msgspec.to_builtins(settings, enc_hook=_enc_hook)
    data.pop("source", None)
    sender = data["sender"]
    data["sender"] = {**{k: v for k, v in sender.items() if k != "backends"}, **sender["backends"]}
    return data


def _secret_problems(settings: Settings) -> list[ConfigProblem]:
    message = (
        "a secret written in clear; keep it out of the file and write a reference to it instead: "
        "'env:VARIABLE_NAME' or 'keyring:service/name'."
    )
    return [ConfigProblem(path, message) for path in _literal_paths(_file_data(settings), "")]


# -- senders named --------------------------------------------------------------------


def _sender_names(plugins: PluginHost) -> str:
    return ", ".join(sorted(plugins.senders.names())) or "none"


def _why_missing(name: str, settings: Settings, plugins: PluginHost) -> str:
    """Why a sender is not there, when a disabled or broken plugin of that name explains it."""
    if name in settings.disabled:
        return f" (the plugin '{name}' is listed in 'disabled')"
    for failure in plugins.failures:
        if failure.name == name:
            return f" (the plugin '{name}' did not load: {failure.error})"
    return ""


def _backend_problems(settings: Settings, plugins: PluginHost) -> list[ConfigProblem]:
    """Each ``backend`` and ``failover`` entry that names no installed sender."""
    named: list[tuple[str, str, str]] = []  # (path, sender, whose)
    sender = settings.sender
    # The default backend counts when a mailbox relies on it, or when the file set it.
    if (
        not settings.mailboxes
        or any(m.backend is None for m in settings.mailboxes)
        or sender.backend != "outbox"
    ):
        named.append(("sender.backend", sender.backend, "[sender] sends"))
    named += [(f"sender.failover.{j}", name, "[sender] fails over") for j, name in enumerate(sender.failover)]
    for i, mailbox in enumerate(settings.mailboxes):
        whose = f"mailbox '{mailbox.name}'"
        if mailbox.backend is not None:
            named.append((f"mailboxes.{i}.backend", mailbox.backend, f"{whose} sends"))
        for j, name in enumerate(mailbox.failover or []):
            named.append((f"mailboxes.{i}.failover.{j}", name, f"{whose} fails over"))
    return [
        ConfigProblem(
            path,
            f"{whose} through '{name}', which is not an installed sender"
            f"{_why_missing(name, settings, plugins)}; installed senders: {_sender_names(plugins)}.",
        )
        for path, name, whose in named
        if name not in plugins.senders
    ]


# -- plugins' tables ------------------------------------------------------------------


def _plugin_table_problems(settings: Settings, plugins: PluginHost) -> list[ConfigProblem]:
    """Each ``[plugins.<name>]`` table decoded into its plugin's Struct; refused when no plugin has it."""
    problems: list[ConfigProblem] = []
    # A plugin that broke is still installed (its failure is reported on its own).
    known = sorted({*plugins.loaded_names(), *(failure.name for failure in plugins.failures)})
    for name, raw in settings.plugins.items():
        table = f"plugins.{name}"
        options = plugins.config_tables.get(table)
        if name in settings.disabled:
            continue
        if options is not None:
            problems += decode_problems(_scrub(raw), options, table)
        elif name not in known:
            problems.append(
                ConfigProblem(
                    table,
                    f"no plugin named '{name}' is installed; installed plugins: "
                    f"{', '.join(known) or 'none'}. Fix the name, or list it in "
                    "'disabled' to keep the table for later.",
                )
            )
    return problems


def _uses(settings: Settings, entry: MailboxSettings | None, sender: str) -> bool:
    """Whether a mailbox (None: the default one) sends or fails over through ``sender``, or overrides it."""
    if entry is None:
        return sender in (settings.sender.backend, *settings.sender.failover)
    failover = entry.failover if entry.failover is not None else settings.sender.failover
    return sender in (entry.backend or settings.sender.backend, *failover) or isinstance(
        entry.settings.get(sender), dict
    )


def _sender_table_problems(settings: Settings, plugins: PluginHost) -> list[ConfigProblem]:
    """Each ``[sender.<name>]`` table, merged with each mailbox's overrides as its sender reads it."""
    problems = _unknown_sender_tables(settings, plugins)
    entries: list[tuple[int, MailboxSettings | None]] = [(-1, None)]
    if settings.mailboxes:
        entries = list(enumerate(settings.mailboxes))
    for table, options in plugins.config_tables.items():
        kind, _, name = table.partition(".")
        if kind != "sender":
            continue
        base = _scrub(settings.sender.backends.get(name, {}))
        users = [(i, entry) for i, entry in entries if _uses(settings, entry, name)]
        if not users and name in settings.sender.backends:
            # Nobody sends through it yet: a key a mailbox would add may still be missing.
            problems += decode_problems(base, options, table, tolerate_missing=True)
        for index, entry in users:
            if entry is None:  # the default mailbox overrides nothing
                problems += decode_problems(base, options, table)
                continue
            overrides, nested = mailbox_overrides(settings, entry, name)
            problems += decode_problems(
                {**base, **_scrub(overrides)},
                options,
                table,
                locate=_override_locator(table, f"mailboxes.{index}.settings", name, overrides, nested),
            )
    return problems


def _override_locator(
    table: str, settings_path: str, sender: str, overrides: dict[str, Any], nested: bool
) -> Callable[[Segments], str]:
    """Where a key of a mailbox's merged sender settings was written: the mailbox, or ``[sender.<name>]``."""
    own = f"{settings_path}.{sender}" if nested else settings_path

    def locate(segments: Segments) -> str:
        return _join(own if segments and segments[0] in overrides else table, segments)

    return locate


def _unknown_sender_tables(settings: Settings, plugins: PluginHost) -> list[ConfigProblem]:
    """``[sender.<name>]`` and ``[mailboxes.settings.<name>]`` tables of senders that are not installed."""
    installed = set(plugins.senders.names())
    failed = {failure.name for failure in plugins.failures}

    def unknown(name: str) -> bool:
        return not (
            name in installed
            or name in settings.disabled
            or name in failed
            or f"sender.{name}" in plugins.config_tables
        )

    problems = [
        ConfigProblem(
            f"sender.{name}",
            f"no sender named '{name}' is installed; installed senders: {_sender_names(plugins)}.",
        )
        for name in settings.sender.backends
        if unknown(name)
    ]
    for i, entry in enumerate(settings.mailboxes):
        problems += [
            ConfigProblem(
                f"mailboxes.{i}.settings.{key}",
                f"a table in [mailboxes.settings] overrides the sender it is named after, and no sender "
                f"named '{key}' is installed; installed senders: {_sender_names(plugins)}.",
            )
            for key, value in entry.settings.items()
            if isinstance(value, dict) and unknown(key)
        ]
    return problems


# -- decoding one table ---------------------------------------------------------------


def _join(base: str, segments: Segments) -> str:
    return ".".join([*([base] if base else []), *(str(segment) for segment in segments)])


def _split(exc: msgspec.ValidationError) -> tuple[str, Segments]:
    """msgspec's message and the path it names (``$.accounts[0].host`` as ``["accounts", 0, "host"]``)."""
    match = _ERROR.match(str(exc))
    message, path = (match.group("msg"), match.group("path") or "") if match else (str(exc), "")
    segments: Segments = []
    for key, index, other in _SEGMENT.findall(path):
        if other == "...":
            break  # a value in a dict, which msgspec does not name: the dict is the path
        segments.append(key or (int(index) if index else other))
    return message, segments


def _unwrap(info: Any) -> Any:
    """The container or Struct inside optional and annotated types."""
    while True:
        if isinstance(info, msgspec.inspect.Metadata):
            info = info.type
        elif isinstance(info, msgspec.inspect.UnionType):
            inner = [t for t in info.types if not isinstance(t, msgspec.inspect.NoneType)]
            info = next((t for t in inner if hasattr(t, "fields") or hasattr(t, "item_type")), inner[0])
        else:
            return info


def _struct_at(type_: type, segments: Segments) -> msgspec.inspect.StructType | None:
    """The Struct the table at ``segments`` inside ``type_`` decodes into, if it is one."""
    info = _unwrap(msgspec.inspect.type_info(type_))
    for segment in segments:
        if isinstance(segment, int):
            info = _unwrap(getattr(info, "item_type", None))
        elif isinstance(info, msgspec.inspect.StructType):
            field = next((f for f in info.fields if f.encode_name == segment), None)
            info = _unwrap(field.type) if field else None
        else:
            info = _unwrap(getattr(info, "value_type", None))
    return info if isinstance(info, msgspec.inspect.StructType) else None


def _keys_at(type_: type, segments: Segments) -> list[str]:
    """The keys the table at ``segments`` inside ``type_`` takes (none when it is not a Struct)."""
    info = _struct_at(type_, segments)
    return sorted(field.encode_name for field in info.fields) if info else []


def _missing_at(data: Any, type_: type, segments: Segments) -> list[str]:
    """The required keys the table at ``segments`` lacks (msgspec names only the first)."""
    info = _struct_at(type_, segments)
    for segment in segments:
        try:
            data = data[segment]
        except (KeyError, IndexError, TypeError):
            return []
    if info is None or not isinstance(data, dict):
        return []
    return [field.encode_name for field in info.fields if field.required and field.encode_name not in data]


def _remove(data: Any, segments: Segments) -> bool:
    """Remove the key at ``segments`` from ``data``; False when it cannot be (a list entry, the table)."""
    if not segments or isinstance(segments[-1], int):
        return False  # removing an entry would move the ones after it
    parent = data
    for segment in segments[:-1]:
        try:
            parent = parent[segment]
        except (KeyError, IndexError, TypeError):
            return False
    if not isinstance(parent, dict) or segments[-1] not in parent:
        return False
    del parent[segments[-1]]
    return True


def decode_problems(
    raw: dict[str, Any],
    options: type,
    table: str,
    *,
    tolerate_missing: bool = False,
    locate: Callable[[Segments], str] | None = None,
) -> list[ConfigProblem]:
    """Every problem of decoding ``raw`` into ``options``, not only the first.

    msgspec stops at the first wrong key, so each one found is removed and the table is
    decoded again. A missing key, or a wrong list entry, ends the search (there is nothing
    to remove that would let it go on).

    :param table: the table's path (``plugins.website``, or ``""`` for the whole file), for
        keys found in ``raw`` itself.
    :param tolerate_missing: leave out missing required keys (a table no mailbox uses yet).
    :param locate: where each key was written, when ``raw`` merges two tables.
    """
    data = copy.deepcopy(raw)
    where = locate or (lambda segments: _join(table, segments))
    problems: list[ConfigProblem] = []
    removed: set[tuple[str | int, ...]] = set()
    for _ in range(_MAX_PER_TABLE):
        try:
            msgspec.convert(data, options, dec_hook=_dec_hook)
            break
        except msgspec.ValidationError as exc:
            message, segments = _split(exc)
        except OutreachError as exc:  # a check of the plugin's own (its __post_init__)
            problems.append(ConfigProblem(table, str(exc)))
            break
        if unknown := _UNKNOWN.match(message):
            label = _join(table, [s for s in segments if isinstance(s, str)])
            keys = ", ".join(_keys_at(options, segments)) or "none"
            segments = [*segments, unknown.group("key")]
            problems.append(ConfigProblem(where(segments), f"unknown key; [{label}] takes: {keys}."))
        elif missing := _MISSING.match(message):
            keys = _missing_at(data, options, segments) or [missing.group("key")]
            if not tolerate_missing:
                problems += [
                    ConfigProblem(where([*segments, key]), "is required, and not set.")
                    for key in keys
                    if (*segments, key) not in removed  # removed here for being wrong: said already
                ]
            break
        else:
            problems.append(ConfigProblem(where(segments), f"{message[0].lower()}{message[1:]}."))
        if not _remove(data, segments):
            break
        removed.add(tuple(segments))
    return problems
