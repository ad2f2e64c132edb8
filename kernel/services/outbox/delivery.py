"""One send through a mailbox's chain of senders, with failover only while nothing was handed over.

The primary sender is tried first. Only when it is *unavailable* (it could not be
reached or refused the login, so it holds nothing) is the next sender tried, and
the switch is recorded before the try so that a crash during it is reconciled with
the right sender. Any other error ends the attempt: a transient one retries later,
a permanent one fails the email, and an uncertain one (the connection broke after
the message was handed over) is never retried blindly.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog

from ...contracts import OutgoingMessage
from ...errors import PermanentSendError, SenderUnavailable, TransientSendError, UncertainSendError
from ...models import Email
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
) -> Outcome:
    """Send ``message`` through the first sender of ``chain`` that is up; say what happened."""
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
            receipt = await sender.send(message)
        except SenderUnavailable as exc:
            down_until[name] = now + pause
            reasons.append(f"{name} is unavailable: {_reason(exc, email.to_address)}")
            log.warning("sender_unreached", sender=name, email_id=email.id, error=str(exc))
            continue
        except TransientSendError as exc:
            return Outcome(
                email=email, kind="retry", sender=name, error=f"{name}: {_reason(exc, email.to_address)}"
            )
        except PermanentSendError as exc:
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
