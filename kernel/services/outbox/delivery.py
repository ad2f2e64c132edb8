"""One send through a mailbox's chain of senders, with failover only while nothing was handed over.

The primary sender is tried first. Only when it is *unavailable* (it could not be
reached or refused the login, so it holds nothing) is the next sender tried, and
the switch is recorded before the try so that a crash during it is reconciled with
the right sender. Any other error ends the attempt: a transient one retries later,
a permanent one fails the email, and an uncertain one (the connection broke after
the message was handed over) is never retried blindly.

Each try is marked in the worker's hand-over log (:mod:`.handover`): ``H`` before
anything that could make the server accept the message (a
:class:`~outreach.kernel.protocols.HandoverSender` says when: for SMTP, after the
envelope and before DATA; any other sender, before ``send``), then ``A`` if the
server accepted it or ``N`` if it certainly holds nothing. An uncertain end (or a
crash) leaves ``H`` alone. A mark that cannot be written means nothing is sent.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from ...contracts import OutgoingMessage
from ...errors import PermanentSendError, SenderUnavailable, TransientSendError, UncertainSendError
from ...models import Email
from .handover import HandoverLog, HandoverNotRecorded
from .ledger import Outcome
from .messages import redact_address

if TYPE_CHECKING:
    from ...runtime import Runtime

log = structlog.get_logger("outreach.outbox")


def _reason(exc: Exception, address: str | None) -> str:
    reply = getattr(exc, "reply", None)
    text = str(exc)
    text = f"{text} (server said: {reply})" if reply and reply not in text else text
    return redact_address(text, address) or text


async def deliver(
    rt: Runtime,
    email: Email,
    message: OutgoingMessage,
    chain: list[str],
    *,
    down_until: dict[str, datetime],
    now: datetime,
    switch: Callable[[int, str], Awaitable[None]],
    handovers: HandoverLog | None = None,
) -> Outcome:
    """Send ``message`` through the first sender of ``chain`` that is up; say what happened."""
    handed = False

    def ready() -> None:
        # Just before the first byte that could make a server accept the message.
        nonlocal handed
        if handovers is not None and not handed:
            handovers.handing_over(email.id, email.version)
            handed = True

    def not_handed_over() -> None:
        nonlocal handed
        if handovers is not None and handed:
            handovers.not_handed_over(email.id)
        handed = False

    pause = timedelta(seconds=rt.settings.sending.unavailable_pause_seconds)
    reasons: list[str] = []
    recorded = email.sender_backend
    for position, name in enumerate(chain):
        if down_until.get(name, now) > now and position < len(chain) - 1:
            reasons.append(f"{name} is down")
            continue
        sender = rt.plugins.senders.get(name)
        if name != recorded:
            await switch(email.id, name)
            recorded = name
        try:
            # (getattr, not isinstance: a runtime protocol check costs more than the mark)
            send_when_ready = getattr(sender, "send_when_ready", None)
            if send_when_ready is not None:
                receipt = await send_when_ready(message, ready)
            else:
                ready()
                receipt = await sender.send(message)
        except HandoverNotRecorded as exc:
            not_handed_over()
            log.warning("handover_not_recorded", email_id=email.id, error=str(exc))
            return Outcome(email=email, kind="unavailable", sender=name, error=f"{exc} (will try again)")
        except SenderUnavailable as exc:
            not_handed_over()
            down_until[name] = now + pause
            reasons.append(f"{name} is unavailable: {_reason(exc, email.to_address)}")
            log.warning("sender_unreached", sender=name, email_id=email.id, error=str(exc))
            continue
        except TransientSendError as exc:
            not_handed_over()
            return Outcome(
                email=email, kind="retry", sender=name, error=f"{name}: {_reason(exc, email.to_address)}"
            )
        except PermanentSendError as exc:
            not_handed_over()
            return Outcome(
                email=email, kind="failed", sender=name, error=f"{name}: {_reason(exc, email.to_address)}"
            )
        except UncertainSendError as exc:
            return Outcome(
                email=email, kind="uncertain", sender=name, error=f"{name}: {_reason(exc, email.to_address)}"
            )
        except Exception as exc:  # a sender bug: the server may have the message, so never resend blindly
            log.exception("sender_crashed", sender=name, email_id=email.id)
            return Outcome(
                email=email, kind="uncertain", sender=name, error=f"{name} failed unexpectedly: {exc!r}"
            )
        if handovers is not None:
            if not handed:  # a sender that never said when it handed the message over
                with contextlib.suppress(HandoverNotRecorded):
                    ready()
            handovers.accepted(email.id, receipt.provider_message_id, receipt.provider_thread_id)
        down_until.pop(name, None)
        return Outcome(
            email=email,
            kind="sent",
            sender=name,
            provider_message_id=receipt.provider_message_id,
            provider_thread_id=receipt.provider_thread_id,
            accepted_at=receipt.accepted_at,
        )
    return Outcome(email=email, kind="unavailable", error="; ".join(reasons) + " (will try again)")


def first_up(chain: list[str], down_until: dict[str, datetime], now: datetime) -> str:
    """The sender of ``chain`` a send starts with: the first not known to be down (else the last)."""
    for name in chain:
        if down_until.get(name, now) <= now:
            return name
    return chain[-1]
