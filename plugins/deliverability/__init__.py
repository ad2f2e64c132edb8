"""Built-in plugin ``deliverability``: the domain doctor, and the gate that uses it.

- ``outreach doctor [--json]`` and the page ``/deliverability`` examine each
  mailbox's From domain: SPF, DKIM, DMARC, MX and the SMTP server's TLS, each with a
  status and a fix (see :mod:`.doctor`);
- the ``deliverability`` compliance check holds back the first email of a sequence
  from a domain whose mail would fail both SPF and DKIM (see :mod:`.gate`).

DNS is asked of ``[plugins.deliverability] nameserver`` and ``port`` (the system's
resolvers by default) within ``timeout`` seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from outreach.kernel import ComplianceCheck, PluginContext, hookimpl

from .command import add_doctor
from .doctor import Doctor
from .gate import AuthenticationGate
from .options import DeliverabilityOptions


def _doctor(context: PluginContext) -> Doctor:
    return Doctor(context, context.plugin_options("deliverability", DeliverabilityOptions))


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[plugins.deliverability]``, so a typo in it is an error at start-up."""
    register("plugins.deliverability", DeliverabilityOptions)


@hookimpl
def register_compliance_checks(register: Callable[[ComplianceCheck], None], context: PluginContext) -> None:
    """Provide the ``deliverability`` check (no sequence starts from an unauthenticated domain)."""
    register(AuthenticationGate(context, _doctor(context)))


@hookimpl
def register_routes(register: Callable[[Any], None], context: PluginContext) -> None:
    """Add the Deliverability page, ``GET /deliverability``."""
    from .page import page_handler  # imports Litestar, which the command line does without

    register(page_handler(_doctor(context)))


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``outreach doctor``."""
    add_doctor(cli)
