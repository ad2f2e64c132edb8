"""Putting new settings into effect in a running outreach, without a restart.

The Settings page saves the file, then calls :func:`apply_settings`: the plugins are
built again from the new settings (so every sender and compliance check reads them),
the mailboxes are mirrored again, emails held for missing legal settings are released
to be judged at once, and the outbox worker wakes. Work already under way (a running
job, a batch with a server) finishes with the plugins it started with; their open
connections are closed a little later rather than under their feet.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

import structlog

from .config import Settings
from .config_check import refuse_problems
from .plugins import PluginHost, build_plugin_host
from .services.geocoding import GeocodingService
from .services.mailboxes import MailboxService
from .services.outbox.holds import release_legal_holds

if TYPE_CHECKING:
    from .runtime import Runtime

log = structlog.get_logger("outreach.settings")

#: Seconds old senders and reply sources keep their connections, so work under way can finish.
RETIRE_AFTER = 30.0

_retiring: set[asyncio.Task[None]] = set()


def build_plugins_for(rt: Runtime, settings: Settings) -> PluginHost:
    """A plugin host for ``settings``, loaded the way the running one was."""
    return build_plugin_host(
        settings,
        vault=rt.vault,
        load_entry_points=rt.load_entry_points,
        extra=rt.extra_plugins,
    )


def check_settings(rt: Runtime, settings: Settings) -> PluginHost:
    """The plugins for ``settings``, after the checks start-up makes (the same messages).

    Raise :class:`ConfigError` listing every problem; nothing changes then.
    """
    plugins = build_plugins_for(rt, settings)
    refuse_problems(settings, plugins)
    return plugins


async def _retire(host: PluginHost) -> None:
    await asyncio.sleep(RETIRE_AFTER)
    for plugin_object in (*host.senders, *host.reply_sources):
        closer = getattr(plugin_object, "aclose", None)
        if closer is not None:
            with contextlib.suppress(Exception):
                await closer()


async def apply_settings(rt: Runtime, settings: Settings, plugins: PluginHost, *, actor: str) -> list[int]:
    """Run ``rt`` with ``settings`` (already checked) and ``plugins`` built for them.

    Returns the ids of the emails released from a legal hold.
    """
    old, previous = rt.plugins, rt.settings
    rt.settings = settings
    try:
        mailboxes = MailboxService(rt)
    except Exception:
        rt.settings = previous
        raise
    rt.plugins = plugins
    rt.geocoding = GeocodingService(plugins.sorted_geocoders)
    rt.mailboxes = mailboxes
    await rt.mailboxes.sync()
    if rt.poller.running:
        # Reply sources read their settings when built: read with the new ones from now on.
        await rt.poller.stop()
        rt.poller.start()
    released = await release_legal_holds(rt.clock(), actor=actor)
    rt.outbox.wake()
    task = asyncio.get_running_loop().create_task(_retire(old))
    _retiring.add(task)
    task.add_done_callback(_retiring.discard)
    log.info("settings_applied", actor=actor, released=len(released), source=settings.source)
    return released
