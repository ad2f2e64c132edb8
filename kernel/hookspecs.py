"""The whole plugin API of outreach: every hook a plugin can implement.

Hooks come in three kinds:

- *registration* hooks (``register_*``) are called once, when the plugin manager is
  built; a plugin calls ``register(obj)`` for each object it provides, and the kernel
  owns the registry, refuses duplicate names and remembers which plugin gave what
  (``register_config_tables`` declares the plugin's config tables instead, so they are
  checked at start-up);
- *event* hooks are called after a change has been committed, for side effects;
- *extension* hooks let a plugin add web routes and CLI commands.

Hooks are plain synchronous calls. The async work lives in the objects a plugin
registers (see :mod:`outreach.kernel.protocols`). An implementation may accept any
subset of a hook's arguments, by name::

    from outreach.kernel import hookimpl

    @hookimpl
    def register_senders(register, context):
        register(MySender(context.sender_options("mine", MyOptions)))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Callable

    import click
    import msgspec

    from .context import PluginContext
    from .models import Email, InboundRecord, Lead
    from .protocols import (
        ComplianceCheck,
        DiscoverySource,
        Enricher,
        Geocoder,
        ReplyClassifier,
        ReplySource,
        Sender,
    )

PROJECT_NAME = "outreach"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
#: The marker a plugin puts on each hook implementation.
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


# -- registration ---------------------------------------------------------------------


@hookspec
def register_config_tables(register: Callable[[str, type[msgspec.Struct]], None]) -> None:
    """Declare the config tables this plugin reads, each with the Struct it decodes into.

    Called once when the plugin manager is built, before the other registration hooks.
    Every table declared here is checked when outreach starts and by ``outreach config
    show``, even if the plugin reads it only later (on its first send or search): an
    unknown key is an error that names it and lists the keys the table takes, and a
    sender's Struct also checks each mailbox's ``[mailboxes.settings]`` overrides. A
    table a plugin does not declare reaches it unchecked.

    :param register: call ``register("plugins.<name>", Options)`` for the plugin's
        ``[plugins.<name>]`` table, or ``register("sender.<name>", Options)`` for a
        sender's ``[sender.<name>]`` table, where ``Options`` is the
        :class:`msgspec.Struct` (with ``forbid_unknown_fields=True``) that
        :meth:`PluginContext.plugin_options` or :meth:`PluginContext.sender_options`
        decodes the table into.
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_discovery_sources(register: Callable[[DiscoverySource], None], context: PluginContext) -> None:
    """Register sources that find businesses.

    Called once when the plugin manager is built.

    :param register: call ``register(source)`` for each
        :class:`~outreach.kernel.protocols.DiscoverySource`; its ``name`` is what
        ``outreach discover --source`` and the Discover page select. A source that is also
        a :class:`~outreach.kernel.protocols.SplittableSource` (``plan`` and
        ``discover_units``) has its large searches shared by every worker.
    :param context: the plugin's view of the configuration and the data directory.
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_geocoders(register: Callable[[Geocoder], None], context: PluginContext) -> None:
    """Register geocoders that turn place text ("Austin, TX") into coordinates.

    Called once when the plugin manager is built. When a search names a place, the
    kernel asks every geocoder in ascending ``order`` and takes the first answer;
    ``"lat,lng"`` needs no geocoder.

    :param register: call ``register(geocoder)`` for each
        :class:`~outreach.kernel.protocols.Geocoder`.
    :param context: the plugin's view of the configuration and the data directory
        (where a geocoder may keep its cache).
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_enrichers(register: Callable[[Enricher], None], context: PluginContext) -> None:
    """Register enrichers that learn more about each lead during analysis.

    Called once when the plugin manager is built. The analysis job runs every
    enricher on every lead in ascending ``order``.

    :param register: call ``register(enricher)`` for each
        :class:`~outreach.kernel.protocols.Enricher`.
    :param context: the plugin's view of the configuration and the data directory.
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_senders(register: Callable[[Sender], None], context: PluginContext) -> None:
    """Register senders that deliver email.

    Called once when the plugin manager is built.

    :param register: call ``register(sender)`` for each
        :class:`~outreach.kernel.protocols.Sender`; its ``name`` is what
        ``[sender] backend`` (or a mailbox's ``backend``) selects in the config.
    :param context: the plugin's view of the configuration; a sender reads its
        settings from ``[sender.<name>]`` with :meth:`PluginContext.sender_options`.
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_compliance_checks(register: Callable[[ComplianceCheck], None], context: PluginContext) -> None:
    """Register checks that every message must pass before it is claimed for sending.

    Called once when the plugin manager is built. Before each message is claimed,
    every check that is also a :class:`~outreach.kernel.protocols.MessagePreparer`
    adds its headers and footer (``prepare``), then every check runs on the result
    (``check``); one ``block`` fails the email with its reason, one ``defer`` moves
    it to later. The message as prepared is what the sender delivers.

    :param register: call ``register(check)`` for each
        :class:`~outreach.kernel.protocols.ComplianceCheck` (or
        :class:`~outreach.kernel.protocols.MessagePreparer`).
    :param context: the plugin's view of the configuration.
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_reply_sources(register: Callable[[ReplySource], None], context: PluginContext) -> None:
    """Register sources of inbound mail: replies, auto-replies and bounces.

    Called once when the plugin manager is built; the kernel polls each source.

    :param register: call ``register(source)`` for each
        :class:`~outreach.kernel.protocols.ReplySource`.
    :param context: the plugin's view of the configuration and its saved state.
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_reply_classifiers(register: Callable[[ReplyClassifier], None], context: PluginContext) -> None:
    """Register classifiers that sort replies into categories.

    Called once when the plugin manager is built. Every classifier is asked about
    every reply and auto-reply; the answer with the highest confidence wins, so a
    smarter classifier only has to be more confident than the built-in rules.

    :param register: call ``register(classifier)`` for each
        :class:`~outreach.kernel.protocols.ReplyClassifier`.
    :param context: the plugin's view of the configuration.
    :return: nothing; results go through ``register``.
    """


# -- events ---------------------------------------------------------------------------


@hookspec
def lead_transitioned(lead: Lead, old_state: str, new_state: str, actor: str, context: PluginContext) -> None:
    """A lead changed state; the change is already committed.

    Called once per transition, after the transaction that applied it. An
    exception here is logged and does not undo the change.

    :param lead: the lead as it is now.
    :param old_state: the state it left.
    :param new_state: the state it entered.
    :param actor: who made the change (``web``, ``cli``, ``system:analysis``...).
    :param context: the plugin's view of the configuration and its saved state. The hook
        is a synchronous call on the running event loop: async work (saving state) is
        started with :meth:`PluginContext.spawn`, which outreach finishes before it closes.
    :return: nothing.
    """


@hookspec
def email_transitioned(
    email: Email, old_state: str, new_state: str, actor: str, context: PluginContext
) -> None:
    """An outgoing email changed state; the change is already committed.

    Called once per transition, after the transaction that applied it. An
    exception here is logged and does not undo the change.

    :param email: the email as it is now (``last_error`` holds the server's answer after a
        failed or retried send; ``category`` the reply's category once ``categorized``).
    :param old_state: the state it left.
    :param new_state: the state it entered.
    :param actor: who made the change (``system:inbound`` for bounces and replies).
    :param context: as for :func:`lead_transitioned`.
    :return: nothing.
    """


@hookspec
def inbound_applied(record: InboundRecord, email: Email | None, context: PluginContext) -> None:
    """A message read from a watched mailbox was stored and acted on; the change is committed.

    Called once per message, after the ``email_transitioned`` calls its effects caused
    (a reply, an auto-reply, a bounce). It is the only event for what changes no email's
    state: a soft bounce is recorded but moves nothing, yet its status may say that the
    sending mailbox is blocked. An exception here is logged and does not undo anything.

    :param record: the stored message: ``kind`` (``reply``, ``auto_reply``, ``bounce``),
        ``category``, ``bounce_class`` and, in ``detail``, each bounced recipient's
        ``status``, ``reply_code``, ``reason`` and ``hard``, and ``ours`` (whether the
        failed recipient is the one our email was written to).
    :param email: our email it matched, as it was before the effects (None when none).
    :param context: as for :func:`lead_transitioned`.
    :return: nothing.
    """


@hookspec
def address_erased(message_ids: list[str], context: PluginContext) -> None:
    """Personal data was erased: an address (``outreach gdpr erase``) or leads past retention.

    Called once per erasure, after the store forgot the data. A plugin that keeps its
    own copies of messages (the ``outbox`` sender's ``.eml`` files) deletes those with
    these Message-IDs. An exception here is logged and does not undo the erasure.

    :param message_ids: the ``Message-ID`` of every email that was written to the erased
        address or leads.
    :param context: the plugin's view of the configuration and the data directory.
    :return: nothing.
    """


# -- extensions -----------------------------------------------------------------------


@hookspec
def register_routes(register: Callable[[Any], None], context: PluginContext) -> None:
    """Add pages or API endpoints to the web app.

    Called once when the web app is built.

    :param register: call ``register(handler)`` with a Litestar route handler,
        ``Controller`` or ``Router``.
    :param context: the plugin's view of the configuration.
    :return: nothing; results go through ``register``.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``outreach`` command line.

    Called once when the CLI starts.

    :param cli: the top-level click group; add commands with ``@cli.command()``.
    :return: nothing.
    """
