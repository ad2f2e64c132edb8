"""Configuration: one TOML file decoded into msgspec Structs.

The file is found through ``--config``, then ``OUTREACH_CONFIG``, then
``outreach.toml`` in the user's config directory; with none, every default applies
(SQLite in the data directory, the ``outbox`` sender). Every table rejects keys it
does not know, and the error names the key, so a typo never passes silently.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import platformdirs

from .errors import ConfigError
from .private_files import secure_data_dir
from .secrets import SecretRef

APP_NAME = "outreach"
CONFIG_ENV = "OUTREACH_CONFIG"
DATA_DIR_ENV = "OUTREACH_DATA_DIR"

T = TypeVar("T")


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of every config table: unknown keys are errors."""


class WebSettings(_Section):
    """``[web]``: where the browser app listens and how it is reached."""

    host: str = "127.0.0.1"
    port: int = 8000
    #: Required before binding anything but loopback; sent as a bearer token or cookie.
    access_token: SecretRef | None = None
    #: The https address recipients reach (the base of unsubscribe and tracking links in
    #: emails); defaults to host:port, which senders of real mail refuse.
    public_url: str | None = None
    #: Other names the app answers to (``"nas.local"``, ``"192.168.1.20"``; port ignored).
    #: A request naming any other host is refused, so a web page elsewhere that rebinds
    #: its name to this machine cannot read the app. The bound address, the loopback
    #: names and the host of ``public_url`` are always accepted.
    allowed_hosts: list[str] = []


class DatabaseSettings(_Section):
    """``[database]``: where the store lives."""

    #: SQLite file; defaults to ``<data dir>/outreach.db``.
    path: str | None = None
    #: Seconds a writer waits for SQLite's lock before giving up.
    busy_timeout: float = 30.0
    #: ``postgresql://user@host:port/db``: the store on PostgreSQL instead of the SQLite file.
    url: str | None = None
    #: The PostgreSQL password, as a secret reference (never inside ``url``).
    password: SecretRef | None = None
    #: Connections each process keeps to PostgreSQL at most.
    pool_size: int = 10


class SenderSettings(_Section):
    """``[sender]``: which sender delivers mail, and what takes over when it is down.

    Each ``[sender.<name>]`` sub-table holds that sender's own settings; the sender
    decodes it with :meth:`PluginContext.sender_options`.
    """

    backend: str = "outbox"
    failover: list[str] = []
    backends: dict[str, dict[str, Any]] = {}


class MailboxSettings(_Section):
    """One ``[[mailboxes]]`` entry: a sender identity and its sending policy."""

    name: str
    from_address: str
    backend: str | None = None
    #: Senders that take over when this mailbox's backend is down (default: ``[sender] failover``).
    failover: list[str] | None = None
    daily_cap: int = 30
    #: Sending hours in the recipient's timezone, ``HH:MM-HH:MM`` (``00:00-24:00`` for any time).
    window: str = "09:00-17:00"
    weekdays_only: bool = True
    min_gap_seconds: int = 90
    #: Up to this fraction of ``min_gap_seconds`` is added at random to each gap.
    gap_jitter: float = 0.5
    #: IANA timezone for recipients whose own cannot be told, and for counting the day's cap.
    timezone: str | None = None

    def __post_init__(self) -> None:
        parse_window(self.window)
        if self.timezone is not None:
            _check_timezone(self.timezone)
        if self.daily_cap < 0 or self.min_gap_seconds < 0 or not 0 <= self.gap_jitter <= 5:
            raise ValueError("daily_cap and min_gap_seconds must be positive, gap_jitter between 0 and 5")

    reply_to: str | None = None
    #: Count opens and clicks: an open pixel and redirected links in this mailbox's HTML emails.
    tracking: bool = True
    #: Raise the cap gradually: on day N it is ``min(daily_cap, ramp_up_start + N * ramp_up_step)``.
    ramp_up_start: int | None = None
    ramp_up_step: int = 5
    #: Per-mailbox overrides of the backend's settings (``[mailboxes.settings]``).
    settings: dict[str, Any] = {}


class SendingSettings(_Section):
    """``[sending]``: how the outbox worker retries, paces and recovers."""

    #: Tries of one email before it fails (transient errors only; a down server does not count).
    max_attempts: int = 6
    #: The first retry waits this long; each next one twice as long, with jitter, up to the max.
    retry_base_seconds: float = 60.0
    retry_max_seconds: float = 6 * 3600.0
    #: Emails sent per minute across every mailbox and worker (0: no limit).
    rate_limit_per_minute: int = 20
    #: Emails claimed together; their states are written in one transaction.
    batch_size: int = 25
    #: Seconds the worker sleeps when nothing is due.
    poll_seconds: float = 5.0
    #: An email in ``sending`` for longer than this belongs to a worker that is gone.
    lease_seconds: float = 600.0
    #: Wait this long after a send's outcome became unknown before looking it up, so the
    #: provider has indexed the message.
    reconcile_after_seconds: float = 60.0
    #: How long a sender that is down is left alone before the next try.
    unavailable_pause_seconds: float = 120.0


class ComplianceSettings(_Section):
    """``[compliance]``: what the law asks of every message, and how long data is kept.

    Until ``physical_address`` and ``sender_name`` are set, senders that deliver real mail
    hold every message back (CAN-SPAM asks for both); the ``outbox`` sender still works.
    """

    #: The sender's postal address, printed in every footer.
    physical_address: str | None = None
    #: Who is writing (a person or a business), printed in every footer.
    sender_name: str | None = None
    #: Leads rejected, expired or failed are deleted this many days after their last change.
    retention_days: Annotated[int, msgspec.Meta(ge=1)] = 90


class TrackingSettings(_Section):
    """``[tracking]``: inbound mail, delivery, opens and clicks."""

    #: A sent email with no bounce after this many hours is ``delivered``.
    delivered_after_hours: Annotated[float, msgspec.Meta(gt=0)] = 24.0
    #: Soft bounces (mailbox full, delays) of one address before it is suppressed.
    soft_bounce_limit: Annotated[int, msgspec.Meta(ge=1)] = 3
    #: An open or click this soon after sending is a scanner's, not a person's.
    scanner_seconds: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    #: Seconds between two reads of a reply source that cannot wait for news itself.
    poll_seconds: Annotated[float, msgspec.Meta(gt=0)] = 60.0


class AnalysisSettings(_Section):
    """``[analysis]``: how the analysis job runs the enrichers over leads."""

    #: How many leads are analyzed at once.
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 4
    #: Seconds one enricher may spend on one lead before it counts as failed.
    enricher_timeout: Annotated[float, msgspec.Meta(gt=0)] = 120.0


class DeliverabilitySettings(_Section):
    """``[deliverability]``: how far outreach protects the sender's domain from itself."""

    #: Start sequences even from a domain whose mail fails both SPF and DKIM (each domain
    #: that uses it is recorded in the audit log).
    allow_unauthenticated: bool = False
    #: Move the queued emails of a paused mailbox to the mailboxes that are not paused
    #: (spread by what each may still send today) instead of letting them wait for a resume.
    move_when_paused: bool = False


class UpdatesSettings(_Section):
    """``[updates]``: whether outreach looks for a newer release, and where."""

    #: Ask PyPI, at most once a day, whether a newer release exists (never at start-up's expense).
    check: bool = False
    #: The base of PyPI's JSON API (``{pypi_url}/outreach/json``).
    pypi_url: str = "https://pypi.org/pypi"
    #: Where ``outreach self-update`` downloads the desktop binary: ``{version}`` and
    #: ``{platform}`` (``linux-x86_64``, ``macos-arm64``, ``windows-x86_64`` ...) are filled
    #: in; the file's SHA-256 is read from the same address with ``.sha256`` appended.
    download_url: str | None = None


class Settings(_Section):
    """The whole configuration."""

    data_dir: str | None = None
    #: Plugin names never loaded (built-in or installed).
    disabled: list[str] = []
    log_level: str = "info"
    web: WebSettings = msgspec.field(default_factory=WebSettings)
    database: DatabaseSettings = msgspec.field(default_factory=DatabaseSettings)
    sender: SenderSettings = msgspec.field(default_factory=SenderSettings)
    mailboxes: list[MailboxSettings] = []
    sending: SendingSettings = msgspec.field(default_factory=SendingSettings)
    compliance: ComplianceSettings = msgspec.field(default_factory=ComplianceSettings)
    tracking: TrackingSettings = msgspec.field(default_factory=TrackingSettings)
    analysis: AnalysisSettings = msgspec.field(default_factory=AnalysisSettings)
    deliverability: DeliverabilitySettings = msgspec.field(default_factory=DeliverabilitySettings)
    updates: UpdatesSettings = msgspec.field(default_factory=UpdatesSettings)
    #: ``[plugins.<name>]`` tables, decoded by each plugin with :func:`decode_section`.
    plugins: dict[str, dict[str, Any]] = {}
    #: Where the settings were read from (not a key in the file).
    source: str | None = None

    @property
    def data_path(self) -> Path:
        """The data directory, created on first use (0700: it holds personal data).

        The first use in a process also narrows what an older version left readable to
        others (see :func:`~outreach.kernel.private_files.secure_data_dir`).
        """
        path = Path(self.data_dir) if self.data_dir else default_data_dir()
        return secure_data_dir(path)

    @property
    def database_path(self) -> Path:
        """The SQLite file."""
        return Path(self.database.path) if self.database.path else self.data_path / "outreach.db"


_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@functools.lru_cache(maxsize=64)
def parse_window(window: str) -> tuple[time, time | None]:
    """``"09:00-17:00"`` as (start, end); an end of ``24:00`` is None (the end of the day).

    Cached: the planner asks for every email it considers.
    """
    match = _WINDOW.match(window)
    if not match:
        raise ValueError(f"window must read HH:MM-HH:MM (for example 09:00-17:00), not {window!r}")
    sh, sm, eh, em = (int(g) for g in match.groups())
    if sh > 23 or sm > 59 or em > 59 or eh > 24 or (eh == 24 and em):
        raise ValueError(f"window {window!r} names a time that does not exist")
    start, end = time(sh, sm), (None if eh == 24 else time(eh, em))
    if end is not None and end <= start:
        raise ValueError(f"window {window!r} ends before it starts")
    return start, end


def _check_timezone(name: str) -> None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not an IANA timezone such as 'Europe/Paris'") from None


def default_data_dir() -> Path:
    """``OUTREACH_DATA_DIR`` if set, else the platform's user data directory."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(platformdirs.user_data_dir(APP_NAME))


def default_config_path() -> Path:
    """Where the config file is looked for when none is named."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "outreach.toml"


def _dec_hook(type_: type, obj: Any) -> Any:
    if type_ is SecretRef:
        if not isinstance(obj, str):
            raise ValueError("a secret must be a string such as 'env:NAME'")
        return SecretRef(obj)
    raise TypeError(f"outreach's config has no values of type {type_.__name__}")


def _enc_hook(obj: Any) -> Any:
    if isinstance(obj, SecretRef):
        return str(obj)
    raise TypeError(f"cannot show a value of type {type(obj).__name__}")


_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<key>[^`]+)`")


def _explain(exc: msgspec.ValidationError, where: str, prefix: str = "") -> ConfigError:
    """Turn msgspec's message into one that names the key as written in the file."""
    match = _AT.match(str(exc))
    message = match.group("msg") if match else str(exc)
    path = (match.group("path") or "") if match else ""
    dotted = (prefix + path.replace("[", ".").replace("]", "")).strip(".")
    dotted = re.sub(r"^\.", "", dotted.replace("..", "."))
    unknown = _UNKNOWN.match(message)
    if unknown:
        key = f"{dotted}.{unknown.group('key')}" if dotted else unknown.group("key")
        return ConfigError(
            f"{where}: unknown key '{key}'. Check its spelling against the README's configuration section."
        )
    if dotted:
        return ConfigError(f"{where}: '{dotted}': {message[0].lower()}{message[1:]}.")
    return ConfigError(f"{where}: {message}.")


def decode_section(raw: dict[str, Any], type_: type[T], *, where: str, prefix: str = "") -> T:
    """Decode one config table into ``type_``, naming any wrong key in the error."""
    try:
        return msgspec.convert(raw, type_, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise _explain(exc, where, prefix) from None


def _lift_sender_tables(raw: dict[str, Any]) -> dict[str, Any]:
    """Move ``[sender.<name>]`` sub-tables under ``sender.backends``."""
    sender = raw.get("sender")
    if not isinstance(sender, dict):
        return raw
    known = {"backend", "failover", "backends"}
    lifted = {k: v for k, v in sender.items() if k in known}
    tables = {k: v for k, v in sender.items() if k not in known}
    for name, value in tables.items():
        if not isinstance(value, dict):
            raise ConfigError(
                f"unknown key 'sender.{name}'. [sender] takes 'backend', 'failover' and "
                "one [sender.<name>] table per sender."
            )
    lifted["backends"] = {**lifted.get("backends", {}), **tables}
    return {**raw, "sender": lifted}


def parse_settings(raw: dict[str, Any], *, source: str = "the configuration") -> Settings:
    """Decode an already parsed TOML document into :class:`Settings`."""
    if "source" in raw:
        raise ConfigError(f"{source}: unknown key 'source'.")
    lifted = _lift_sender_tables(raw)
    try:
        settings = decode_section(lifted, Settings, where=source)
    except ConfigError:
        # msgspec stops at the first problem; find them all, so one edit fixes the file.
        from .config_check import decode_problems, describe_problems

        problems = decode_problems(lifted, Settings, "")
        if len(problems) > 1:
            raise ConfigError(describe_problems(problems, source)) from None
        raise
    settings.source = source
    return settings


def load_settings(path: str | Path | None = None, *, data_dir: str | Path | None = None) -> Settings:
    """Find, read and decode the config file; apply a data directory override.

    :param path: an explicit config file (``--config``); it must exist.
    :param data_dir: overrides ``data_dir`` (``--data-dir``); ``OUTREACH_DATA_DIR``
        applies when neither this nor the file sets one.
    """
    explicit = path or os.environ.get(CONFIG_ENV)
    candidate = Path(explicit) if explicit else default_config_path()
    if explicit and not candidate.is_file():
        raise ConfigError(f"No config file at {candidate}; check the path given to --config or {CONFIG_ENV}.")
    if candidate.is_file():
        try:
            raw = tomllib.loads(candidate.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{candidate} is not valid TOML: {exc}.") from None
        settings = parse_settings(raw, source=str(candidate))
    else:
        settings = Settings()
    if data_dir is not None:
        settings.data_dir = str(data_dir)
    elif settings.data_dir is None and os.environ.get(DATA_DIR_ENV):
        settings.data_dir = os.environ[DATA_DIR_ENV]
    return settings


_SECRET_KEY = re.compile(r"pass|secret|token|key|credential", re.I)


def _redact(value: Any, key: str = "") -> Any:
    """Hide anything under a secret-looking key that is not a reference."""
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, key) for v in value]
    if isinstance(value, str) and _SECRET_KEY.search(key):
        try:
            return str(SecretRef(value))
        except ValueError:
            return "***redacted***"
    return value


def secret_references(data: Any, found: dict[str, str] | None = None) -> dict[str, str]:
    """Every secret reference in ``data`` (as from :func:`settings_as_dict`), each ``set`` or ``missing``."""
    found = {} if found is None else found
    if isinstance(data, dict):
        for item in data.values():
            secret_references(item, found)
    elif isinstance(data, list):
        for item in data:
            secret_references(item, found)
    elif isinstance(data, str):
        try:
            ref = SecretRef(data)
        except ValueError:
            return found
        found[str(ref)] = "set" if ref.available() else "missing"
    return found


def settings_as_dict(settings: Settings) -> dict[str, Any]:
    """The settings as plain data; secrets appear as their references, never resolved."""
    data = _redact(msgspec.to_builtins(settings, enc_hook=_enc_hook))
    # Show [sender.<name>] tables where the file has them.
    data["sender"] = {
        **{k: v for k, v in data["sender"].items() if k != "backends"},
        **data["sender"]["backends"],
    }
    data["data_dir"] = str(settings.data_path)
    data["database"]["path"] = str(settings.database_path)
    return data
