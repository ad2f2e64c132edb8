"""What a plugin may know about the running outreach: its own settings, a place on disk,
saved state, and keys for signing.

A plugin receives a :class:`PluginContext` in its registration hooks. It reads its
own config table through it, never the raw TOML, so a typo in that table is an error
that names the key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import structlog

from .config import MailboxSettings, Settings, decode_section
from .contracts import GeoPlace
from .crypto import Vault
from .services import audit as audit_log
from .services import plugin_state, suppressions
from .services.geocoding import GeocodingService
from .store.engine import current_engine, write_transaction

if TYPE_CHECKING:
    from .protocols import Geocoder
    from .registry import Registry

T = TypeVar("T")

log = structlog.get_logger("outreach.plugins")


def mailbox_overrides(settings: Settings, entry: MailboxSettings, sender: str) -> tuple[dict[str, Any], bool]:
    """The keys mailbox ``entry`` overrides in ``[sender.<sender>]``, and whether they sit in a
    sub-table named after the sender (``[mailboxes.settings.smtp]``) rather than directly in
    ``[mailboxes.settings]`` (which only the mailbox's own backend reads).
    """
    nested = entry.settings.get(sender)
    if isinstance(nested, dict):
        return dict(nested), True
    if (entry.backend or settings.sender.backend) == sender:
        return {k: v for k, v in entry.settings.items() if not isinstance(v, dict)}, False
    return {}, False


class PluginContext:
    """One plugin's view of the configuration, the data directory, and its saved state."""

    def __init__(self, settings: Settings, vault: Vault | None = None) -> None:
        self.settings = settings
        self._vault = vault
        self._geocoders: Registry[Geocoder] | None = None
        #: Work plugins started from event hooks, awaited by :meth:`settle` before the store closes.
        self._tasks: set[asyncio.Task[Any]] = set()

    def bind_geocoders(self, registry: Registry[Geocoder]) -> None:
        """Use the geocoders in ``registry`` for :meth:`geocode` (the plugin host does this)."""
        self._geocoders = registry

    async def geocode(self, text: str, *, language: str = "en") -> GeoPlace:
        """Where ``text`` ("Austin, TX" or "lat,lng") is, through every registered geocoder.

        Raise :class:`~outreach.kernel.errors.DiscoveryError` with a sentence when no
        geocoder knows the place.
        """
        registry = self._geocoders

        def ordered() -> list[Geocoder]:
            items = list(registry) if registry is not None else []
            return sorted(items, key=lambda geocoder: getattr(geocoder, "order", 100))

        return await GeocodingService(ordered).geocode(text, language=language)

    @property
    def data_dir(self) -> Path:
        """The data directory (created if missing)."""
        return self.settings.data_path

    def plugin_options(self, plugin: str, type_: type[T]) -> T:
        """Decode ``[plugins.<plugin>]`` into ``type_`` (an empty table if absent)."""
        raw = self.settings.plugins.get(plugin, {})
        return decode_section(
            raw, type_, where=self.settings.source or "the configuration", prefix=f"plugins.{plugin}."
        )

    def sender_options(self, sender: str, type_: type[T], overrides: dict[str, Any] | None = None) -> T:
        """Decode ``[sender.<sender>]`` into ``type_``, with per-mailbox ``overrides`` on top."""
        raw = {**self.settings.sender.backends.get(sender, {}), **(overrides or {})}
        return decode_section(
            raw, type_, where=self.settings.source or "the configuration", prefix=f"sender.{sender}."
        )

    def mailbox_sender_options(self, sender: str, mailbox: str | None, type_: type[T]) -> T:
        """``[sender.<sender>]`` with mailbox ``mailbox``'s overrides on top.

        A mailbox overrides a sender's settings in ``[mailboxes.settings]``: either in a
        sub-table named after the sender (``[mailboxes.settings.smtp]``), or, for the
        mailbox's own backend, directly (``username = "bob@example.com"``).
        """
        overrides: dict[str, Any] = {}
        for entry in self.settings.mailboxes:
            if entry.name == mailbox:
                overrides, _nested = mailbox_overrides(self.settings, entry, sender)
        return self.sender_options(sender, type_, overrides)

    def signing_key(self, purpose: str) -> bytes:
        """A secret key for ``purpose`` (signing links, tokens), stable across restarts."""
        if self._vault is None:
            raise RuntimeError("signing keys are available once the store is open")
        return self._vault.derive(f"plugin:{purpose}")

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``work`` on the running event loop, and finish it before outreach closes the store.

        Event hooks are synchronous calls; a plugin that must save something in reaction
        (a pause, a counter) starts it here rather than with ``asyncio.create_task``, so a
        short command (``outreach send``) waits for it instead of dropping it at exit. An
        exception in ``work`` is logged with ``name``. Needs a running event loop.
        """
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("plugin_task_failed", task=task.get_name(), error=str(task.exception()))

    async def settle(self, within: float = 10.0) -> None:
        """Wait until the work started with :meth:`spawn` (and what it started) is done.

        Work still running after ``within`` seconds is cancelled and logged: closing must
        not hang on a plugin.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while self._tasks:
            pending = set(self._tasks)
            _done, late = await asyncio.wait(pending, timeout=max(0.0, deadline - loop.time()))
            if late:
                for task in late:
                    log.warning("plugin_task_cancelled", task=task.get_name())
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
                return

    async def load_state(self, plugin: str, key: str, default: Any = None) -> Any:
        """A value this plugin saved under ``key`` with :meth:`save_state`."""
        return await plugin_state.load(plugin, key, default)

    async def save_state(self, plugin: str, key: str, value: Any) -> None:
        """Save a small JSON-able value under ``key`` for this plugin's next run."""
        await plugin_state.save(plugin, key, value)

    async def audit(
        self,
        entity: str,
        entity_id: int,
        action: str,
        actor: str,
        *,
        old: dict[str, Any] | None = None,
        new: dict[str, Any] | None = None,
    ) -> None:
        """Write one row to the audit log (personal data fields redacted), committed at once.

        For a decision a person must be able to trace later, such as an override of a
        check the config asked for. The row is written in a transaction of its own, even
        when the caller runs inside one (compliance checks run inside the planner's
        read transaction); do not call it while holding a write transaction.

        :param entity: what the row is about (``email``, ``mailbox``...).
        :param entity_id: that record's id.
        :param action: what happened, ``snake_case``.
        :param actor: who decided, e.g. ``plugin:<name>``.
        """
        if self._vault is None:
            raise RuntimeError("the audit log is available once the store is open")
        engine = current_engine()
        outer = engine.current_transaction.set(None)
        try:
            async with write_transaction():
                await audit_log.record(entity, entity_id, action, actor, old, new)
        finally:
            engine.current_transaction.reset(outer)

    async def is_suppressed(self, address: str | None) -> bool:
        """Whether ``address`` is on the suppression list (it must never be mailed)."""
        if self._vault is None:
            raise RuntimeError("the suppression list is available once the store is open")
        return await suppressions.is_hash_suppressed(self._vault.hash_email(address))
