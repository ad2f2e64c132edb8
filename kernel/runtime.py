"""The running outreach: settings, keys, store, plugins and services, opened together.

The web app, the CLI and the worker each open one :class:`Runtime` and reach every
service through it; tests open a fresh one per test on a temporary data directory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import structlog

from .config import Settings
from .config_check import refuse_problems
from .crypto import Vault, load_vault
from .errors import ConfigError
from .job_runner import JobRunner
from .logs import route_to_stdlib
from .plugins import PluginHost, build_plugin_host
from .services import analysis, discovery, retention
from .services.emails import EmailService
from .services.enrollment import EnrollmentService
from .services.geocoding import GeocodingService
from .services.inbound import InboundService
from .services.inbound_poller import InboundPoller
from .services.jobs import JobService
from .services.leads import LeadService
from .services.mailboxes import MailboxService
from .services.outbox.worker import OutboxWorker
from .services.periodic import PeriodicTasks
from .services.sequences import SequenceService
from .services.suppressions import SuppressionService
from .services.templates import TemplateService
from .services.tracking import TrackingService
from .services.transitions import utcnow
from .store.engine import open_store
from .store.notify import JOBS, OUTBOX, work_signals
from .updates import UpdateCheck

log = structlog.get_logger("outreach.runtime")


class Runtime:
    """Everything a front end needs, built from one :class:`Settings`."""

    def __init__(self, settings: Settings, vault: Vault, plugins: PluginHost, engine: Any) -> None:
        self.settings = settings
        self.vault = vault
        self.plugins = plugins
        self.engine = engine
        #: What "now" is for sending decisions; tests replace it to move through days.
        self.clock: Callable[[], datetime] = utcnow
        #: ``host:port`` the web app really listens on (set by ``outreach serve``).
        self.listening: str | None = None
        #: How the plugins were loaded, so that new settings load them the same way.
        self.load_entry_points = True
        self.extra_plugins: tuple[tuple[str, object], ...] = ()
        #: "Work was queued", between the processes on one database (LISTEN/NOTIFY on PostgreSQL).
        self.signals = work_signals(engine)
        self.leads = LeadService(self)
        self.emails = EmailService(self)
        self.jobs = JobService()
        self.suppressions = SuppressionService(self)
        self.geocoding = GeocodingService(plugins.sorted_geocoders)
        self.templates = TemplateService(self)
        self.sequences = SequenceService(self)
        self.mailboxes = MailboxService(self)
        self.enrollment = EnrollmentService(self)
        self.outbox = OutboxWorker(self)
        self.tracking = TrackingService(self)
        self.inbound = InboundService(self)
        self.poller = InboundPoller(self)
        self.periodic = PeriodicTasks(self)
        self.runner = JobRunner(self)
        self.updates = UpdateCheck(
            enabled=settings.updates.check,
            pypi_url=settings.updates.pypi_url,
            cache_dir=settings.data_path / "cache",
        )
        self._update_task: asyncio.Task[Any] | None = None
        # Each is safe to run again on an interrupted job: analysis continues from the leads
        # still to analyze, discovery stores what it finds again by identity (no duplicates),
        # retention deletes what is past retention now.
        self.runner.register(discovery.JOB_KIND, discovery.run_discovery, resumable=True)
        self.runner.register(analysis.JOB_KIND, analysis.run_analysis, resumable=True)
        self.runner.register(retention.JOB_KIND, retention.run_retention, resumable=True)

    @classmethod
    async def open(
        cls,
        settings: Settings,
        *,
        load_entry_points: bool = True,
        extra_plugins: Iterable[tuple[str, object]] = (),
        plugins: bool = True,
    ) -> Runtime:
        """Open the store (migrating it), load the keys and build the plugins.

        Raise :class:`ConfigError` listing every problem :func:`config_problems` finds (a
        key a plugin's table does not take, a sender that is not installed, a secret in
        clear); nothing is started then.

        :param plugins: False for a command that only reads the store (``jobs list``,
            ``leads show``): no plugin is imported, which is most of a command's start-up,
            so neither are their tables checked.
        """
        route_to_stdlib()
        extra_plugins = tuple(extra_plugins)
        vault = load_vault(settings.data_path)
        engine = await open_store(settings)
        if not plugins:
            host = build_plugin_host(settings, vault=vault, load_entry_points=False, builtins=())
            runtime = cls(settings, vault, host, engine)
            runtime.load_entry_points = False
            return runtime
        host = build_plugin_host(
            settings, vault=vault, load_entry_points=load_entry_points, extra=extra_plugins
        )
        for failure in host.failures:
            log.warning("plugin_failed", plugin=failure.name, error=failure.error)
        try:
            refuse_problems(settings, host)
        except ConfigError:
            # Refused before anything runs: a typo must not surface on the first send.
            await engine.close_pool()
            raise
        runtime = cls(settings, vault, host, engine)
        runtime.load_entry_points = load_entry_points
        runtime.extra_plugins = extra_plugins
        await runtime.mailboxes.sync()
        return runtime

    async def start_background(self) -> None:
        """Start the job runner, the outbox worker, the inbound poller and the housekeeping
        (for ``serve`` and ``worker``)."""
        await self.runner.start()
        self.outbox.start()
        await self.signals.start(self._on_signal)
        self.poller.start()
        self.periodic.start()
        if self.updates.due():
            # In the background: start-up never waits for PyPI.
            self._update_task = asyncio.get_running_loop().create_task(
                self.updates.run(), name="update-check"
            )

    def _on_signal(self, topic: str) -> None:
        """Another process (or this one) queued work: the worker for it looks now."""
        if topic == JOBS:
            self.runner.wake()
        elif topic == OUTBOX:
            self.outbox.wake(others=False)

    async def close(self) -> None:
        """Stop background work (running jobs stay resumable) and close senders' and sources' connections."""
        if self._update_task is not None:
            self._update_task.cancel()
        await self.periodic.stop()
        await self.poller.stop()
        await self.outbox.stop()
        await self.runner.stop()
        await self.signals.close()
        # What plugins started in reaction to the last events (a pause) is saved before the store closes.
        await self.plugins.context.settle()
        for plugin_object in (*self.plugins.senders, *self.plugins.reply_sources):
            closer = getattr(plugin_object, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
        await self.engine.close_pool()
