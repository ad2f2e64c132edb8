"""Building the plugin manager, and the typed facade the rest of outreach calls.

:func:`build_plugin_host` does what tox's and pytest's managers do: block the names
the config disables, load the ``outreach.plugins`` entry points, register the
built-ins from :data:`DEFAULT_PLUGINS` through the same public API, check every hook
name, and collect what each plugin registers. A plugin that fails to import, names a
hook that does not exist, or breaks while registering is reported by name and left
out; the others keep working.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import importlib.metadata
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import msgspec
import pluggy
import structlog

from . import hookspecs
from .config import Settings
from .context import PluginContext
from .crypto import Vault
from .errors import PluginError
from .protocols import (
    ComplianceCheck,
    DiscoverySource,
    Enricher,
    Geocoder,
    ReplyClassifier,
    ReplySource,
    Sender,
)
from .registry import Registry

ENTRY_POINT_GROUP = "outreach.plugins"

#: The built-in plugins, registered exactly as a third-party plugin is.
DEFAULT_PLUGINS: tuple[str, ...] = (
    "outreach.plugins.csv_import",
    "outreach.plugins.outbox",
    "outreach.plugins.website",
    "outreach.plugins.email_check",
    "outreach.plugins.scoring",
    "outreach.plugins.first_line",
    "outreach.plugins.smtp",
    "outreach.plugins.gmail",
    "outreach.plugins.reply_rules",
    "outreach.plugins.imap",
    "outreach.plugins.compliance",
    "outreach.plugins.reputation",
    "outreach.plugins.deliverability",
    "outreach.plugins.google_maps",
    "outreach.plugins.google_places",
    "outreach.plugins.openstreetmap",
)

#: Registration hooks and the registry each one fills: attribute, hook, kind, Protocol.
REGISTRATIONS: tuple[tuple[str, str, str, type], ...] = (
    ("discovery_sources", "register_discovery_sources", "discovery source", DiscoverySource),
    ("geocoders", "register_geocoders", "geocoder", Geocoder),
    ("enrichers", "register_enrichers", "enricher", Enricher),
    ("senders", "register_senders", "sender", Sender),
    ("compliance_checks", "register_compliance_checks", "compliance check", ComplianceCheck),
    ("reply_sources", "register_reply_sources", "reply source", ReplySource),
    ("reply_classifiers", "register_reply_classifiers", "reply classifier", ReplyClassifier),
)


class PluginFailure(msgspec.Struct):
    """A plugin that was left out, and why."""

    name: str
    error: str


class PluginInfo(msgspec.Struct, kw_only=True):
    """What ``outreach plugins`` shows for one plugin."""

    name: str
    version: str | None
    origin: str
    hooks: list[str]
    registered: dict[str, list[str]]


@functools.cache
def _version() -> str | None:
    """The installed outreach's version (read once: parsing its metadata costs milliseconds)."""
    try:
        return importlib.metadata.version("outreach")
    except importlib.metadata.PackageNotFoundError:
        return None


class PluginHost:
    """The plugin manager and everything the plugins registered, behind typed methods."""

    def __init__(self, pm: pluggy.PluginManager, context: PluginContext) -> None:
        self.pm = pm
        self.context = context
        self.failures: list[PluginFailure] = []
        self.discovery_sources: Registry[DiscoverySource] = Registry("discovery source", DiscoverySource)
        self.geocoders: Registry[Geocoder] = Registry("geocoder", Geocoder)
        self.enrichers: Registry[Enricher] = Registry("enricher", Enricher)
        self.senders: Registry[Sender] = Registry("sender", Sender)
        self.compliance_checks: Registry[ComplianceCheck] = Registry("compliance check", ComplianceCheck)
        self.reply_sources: Registry[ReplySource] = Registry("reply source", ReplySource)
        self.reply_classifiers: Registry[ReplyClassifier] = Registry("reply classifier", ReplyClassifier)
        #: ``"plugins.<name>"`` and ``"sender.<name>"`` tables plugins declared, with their Structs.
        self.config_tables: dict[str, type[msgspec.Struct]] = {}
        self._table_owners: dict[str, str] = {}
        self._origins: dict[str, tuple[str, str | None]] = {}
        context.bind_geocoders(self.geocoders)

    # -- building --------------------------------------------------------------------

    def _fail(self, name: str, error: str) -> None:
        self.failures.append(PluginFailure(name=name, error=error))
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)

    def add_plugin(self, plugin: object, name: str, origin: str, version: str | None) -> None:
        """Register one plugin object, checking that every hook it implements exists."""
        if self.pm.is_blocked(name):
            return
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            # A hook implementation with arguments its spec does not have, or a name clash.
            self._fail(name, str(exc))
            return
        self._origins[name] = (origin, version)
        unknown = [
            attr
            for attr in dir(plugin)
            if self.pm.parse_hookimpl_opts(plugin, attr) is not None and attr not in _SPEC_NAMES
        ]
        if unknown:
            hints = []
            for attr in unknown:
                close = difflib.get_close_matches(attr, _SPEC_NAMES, n=1)
                hints.append(f"'{attr}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            self._fail(name, f"implements {', '.join(hints)}, which is not an outreach hook")

    def _add_config_table(self, table: str, options: Any, plugin: str) -> None:
        """Remember that ``plugin`` decodes the table ``table`` into ``options``."""
        kind, _, name = table.partition(".")
        if kind not in ("plugins", "sender") or not name or "." in name:
            raise PluginError(
                f"declared the config table '{table}'; a plugin declares 'plugins.<name>' or 'sender.<name>'"
            )
        if not (isinstance(options, type) and issubclass(options, msgspec.Struct)):
            raise PluginError(f"declared '{table}' with {options!r}, which is not a msgspec.Struct class")
        owner = self._table_owners.get(table)
        if owner is not None and owner != plugin:
            raise PluginError(f"declared the config table '{table}', which plugin '{owner}' already declared")
        self.config_tables[table] = options
        self._table_owners[table] = plugin

    def _collect_config_tables(self) -> None:
        """Call ``register_config_tables`` of every plugin.

        First, so that a plugin that later breaks on its own table (a typo in it) still has
        that table checked, and reported with the keys it takes.
        """
        for impl in reversed(self.pm.hook.register_config_tables.get_hookimpls()):
            plugin_name = impl.plugin_name
            if self.pm.get_plugin(plugin_name) is None:
                continue

            def register(table: str, options: Any, _plugin: str = plugin_name) -> None:
                self._add_config_table(table, options, _plugin)

            try:
                _call(impl, register=register)
            except Exception as exc:  # a broken plugin must not take the app down
                self._fail(plugin_name, f"failed in register_config_tables: {exc}")

    def collect(self) -> None:
        """Call every registration hook, plugin by plugin, filling the registries."""
        self._collect_config_tables()
        for attribute, hook_name, _kind, _protocol in REGISTRATIONS:
            registry: Registry[Any] = getattr(self, attribute)
            for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
                plugin_name = impl.plugin_name
                if self.pm.get_plugin(plugin_name) is None:
                    continue

                def register(obj: Any, _plugin: str = plugin_name, _r: Registry[Any] = registry) -> None:
                    _r.add(obj, _plugin)

                try:
                    _call(impl, register=register, context=self.context)
                except Exception as exc:  # a broken plugin must not take the app down
                    self._fail(plugin_name, f"failed in {hook_name}: {exc}")

    # -- facade ----------------------------------------------------------------------

    def plugins(self) -> list[PluginInfo]:
        """Every loaded plugin with its hooks and what it registered."""
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            origin, version = self._origins.get(name, ("unknown", None))
            registered = {
                kind: getattr(self, attribute).by_plugin(name)
                for attribute, _hook, kind, _proto in REGISTRATIONS
                if getattr(self, attribute).by_plugin(name)
            }
            hooks = sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])
            infos.append(
                PluginInfo(name=name, version=version, origin=origin, hooks=hooks, registered=registered)
            )
        return sorted(infos, key=lambda info: (info.origin != "builtin", info.name))

    def loaded_names(self) -> list[str]:
        """The names of the plugins that loaded, sorted."""
        return sorted(name for name, plugin in self.pm.list_name_plugin() if plugin is not None)

    def sorted_geocoders(self) -> list[Geocoder]:
        """Geocoders in the order a place is looked up."""
        return sorted(self.geocoders, key=lambda geocoder: getattr(geocoder, "order", 100))

    def sorted_enrichers(self) -> list[Enricher]:
        """Enrichers in the order analysis runs them."""
        return sorted(self.enrichers, key=lambda enricher: getattr(enricher, "order", 100))

    def listens(self, event: str) -> bool:
        """Whether any plugin implements the event hook ``event`` (so building its arguments is worth it)."""
        return bool(getattr(self.pm.hook, event).get_hookimpls())

    def notify(self, event: str, **kwargs: Any) -> None:
        """Fire an event hook; one plugin's exception is logged and does not stop the others.

        Every event hook may also take ``context`` (the plugin's :class:`PluginContext`).
        """
        kwargs.setdefault("context", self.context)
        for impl in reversed(getattr(self.pm.hook, event).get_hookimpls()):
            try:
                _call(impl, **kwargs)
            except Exception as exc:
                structlog.get_logger("outreach.plugins").error(
                    "plugin_event_failed", plugin=impl.plugin_name, hook_event=event, error=str(exc)
                )

    def route_handlers(self) -> list[Any]:
        """Route handlers that plugins add to the web app."""
        handlers: list[Any] = []
        for impl in reversed(self.pm.hook.register_routes.get_hookimpls()):
            try:
                _call(impl, register=handlers.append, context=self.context)
            except Exception as exc:
                self._fail(impl.plugin_name, f"failed in register_routes: {exc}")
        return handlers

    def add_commands(self, cli: Any) -> None:
        """Let plugins add commands to the CLI group ``cli``."""
        for impl in reversed(self.pm.hook.register_commands.get_hookimpls()):
            try:
                _call(impl, cli=cli)
            except Exception as exc:
                self._fail(impl.plugin_name, f"failed in register_commands: {exc}")


_SPEC_NAMES = sorted(
    name
    for name in dir(hookspecs)
    if not name.startswith("_") and hasattr(getattr(hookspecs, name), "outreach_spec")
)


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one hook implementation with the subset of arguments it accepts."""
    return impl.function(**{name: kwargs[name] for name in impl.argnames if name in kwargs})


def _entry_points() -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)


def build_plugin_host(
    settings: Settings,
    *,
    vault: Vault | None = None,
    load_entry_points: bool = True,
    extra: Iterable[tuple[str, object]] = (),
    builtins: Iterable[str] = DEFAULT_PLUGINS,
) -> PluginHost:
    """Build a fresh plugin manager and collect everything its plugins register.

    :param settings: the configuration; ``settings.disabled`` names plugins to skip.
    :param vault: keys for plugins that sign things (tracking links).
    :param load_entry_points: load third-party plugins from the entry-point group.
    :param extra: ``(name, plugin)`` pairs to register too (tests use this).
    :param builtins: module names of the built-in plugins.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    for name in settings.disabled:
        pm.set_blocked(name)
    host = PluginHost(pm, PluginContext(settings, vault))

    if load_entry_points:
        for entry_point in _entry_points():
            if pm.is_blocked(entry_point.name):
                continue
            version = entry_point.dist.version if entry_point.dist else None
            try:
                plugin = entry_point.load()
            except Exception as exc:
                host._fail(entry_point.name, f"could not be imported: {exc!r}")
                continue
            host.add_plugin(plugin, entry_point.name, "entry point", version)

    for module_name in builtins:
        short = module_name.rsplit(".", 1)[-1]
        if pm.is_blocked(short):
            continue
        try:
            module: ModuleType = importlib.import_module(module_name)
        except Exception as exc:
            host._fail(short, f"could not be imported: {exc!r}")
            continue
        host.add_plugin(module, short, "builtin", _version())

    for name, plugin in extra:
        host.add_plugin(plugin, name, "extra", None)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:  # add_plugin already caught these by name
        raise PluginError(str(exc)) from exc
    host.collect()
    return host
