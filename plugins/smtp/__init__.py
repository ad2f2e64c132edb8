"""Built-in plugin ``smtp``: send through any SMTP server with aiosmtplib.

Settings live in ``[sender.smtp]`` (see :class:`.options.SmtpOptions`); a mailbox may
override them in ``[mailboxes.settings]``. With ``[sender.smtp.sent_folder]`` the
sender can also look a Message-ID up, so a send a crash interrupted is settled
without a person.
"""

from __future__ import annotations

from collections.abc import Callable

from outreach.kernel import PluginContext, Sender, hookimpl

from .options import SmtpOptions
from .sender import SmtpSender


@hookimpl
def register_config_tables(register: Callable[[str, type], None]) -> None:
    """Declare ``[sender.smtp]`` (and mailboxes' overrides of it), so a typo in it is an error at start-up."""
    register("sender.smtp", SmtpOptions)


@hookimpl
def register_senders(register: Callable[[Sender], None], context: PluginContext) -> None:
    """Provide the ``smtp`` sender."""
    register(SmtpSender(context))
