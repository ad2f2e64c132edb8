"""Message-IDs, and turning an outbox row into the message a sender delivers."""

from __future__ import annotations

import functools
import re
import uuid
from email.utils import parseaddr

from ...contracts import OutgoingMessage
from ...models import ANSWER_EMAIL, Email

_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+$")


@functools.lru_cache(maxsize=256)
def message_domain(from_address: str) -> str:
    """The domain a Message-ID is made in: the sender's own, so it looks like any mail it sends.

    Cached: a mailbox's address is parsed for every message it sends.
    """
    _, address = parseaddr(from_address)
    domain = address.rpartition("@")[2].strip().lower()
    return domain if domain and _DOMAIN.match(domain) else "outreach.local"


def make_message_id(from_address: str) -> str:
    """A new, globally unique ``Message-ID`` (with its angle brackets)."""
    return f"<{uuid.uuid4().hex}@{message_domain(from_address)}>"


def redact_address(text: str | None, address: str | None) -> str | None:
    """``text`` (a server's reply, a check's reason) without the recipient's address in it.

    Replies such as ``550 <ann@x.example>: User unknown`` are stored for a person to
    read; the address itself is personal data and stays encrypted elsewhere.
    """
    if not text or not address:
        return text
    _, plain = parseaddr(address)
    for value in {address, plain} - {""}:
        text = re.sub(re.escape(value), "[recipient]", text, flags=re.IGNORECASE)
    return text


def outgoing(email: Email, *, reply_to: str | None = None) -> OutgoingMessage:
    """The message for an outbox row, before compliance adds its headers and footer."""
    headers = {"Reply-To": reply_to} if reply_to else {}
    return OutgoingMessage(
        email_id=email.id,
        message_id=email.message_id or "",
        from_address=email.from_address or "",
        to_address=email.to_address or "",
        subject=email.subject,
        text=email.body_text,
        html=email.body_html,
        headers=headers,
        in_reply_to=email.in_reply_to,
        references=list(email.references),
        thread_id=email.provider_thread_id if email.step_number > 1 or email.kind == ANSWER_EMAIL else None,
        mailbox=email.mailbox,
        lead_id=email.lead_id,
        step_number=email.step_number,
    )
