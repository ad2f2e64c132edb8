"""Amazon SES notifications delivered by mail through SNS (a JSON body, not a DSN).

SES reports bounces, complaints and deliveries as JSON; sent to an SNS e-mail
subscription, the body is either that JSON or an SNS envelope whose ``Message`` field
holds it as a string.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from .original import normalized_message_id


class SesRecipient(msgspec.Struct, kw_only=True):
    """One recipient named in a bounce notification."""

    address: str
    status: str | None = None
    action: str | None = None
    diagnostic: str = ""


class SesNotification(msgspec.Struct, kw_only=True):
    """``kind`` is ``Bounce``, ``Delivery`` or ``Complaint``; bounces list their recipients."""

    kind: str
    permanent: bool = False
    recipients: list[SesRecipient] = []
    #: A complaint's ``complaintFeedbackType`` (``abuse``, ``fraud`` ...), when SES knows it.
    feedback_type: str | None = None
    #: The Message-ID header of the message the notification is about.
    message_id: str | None = None


def _json_object(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        # Mail bodies get wrapped: a line break may land inside a JSON string.
        value = json.loads(text[start : end + 1], strict=False)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def read_ses_notification(body: str) -> SesNotification | None:
    """The SES notification ``body`` carries, or None when it is not one."""
    data = _json_object(body)
    if data is None:
        return None
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        data = _json_object(data["Message"]) or {}
    kind = data.get("notificationType") or data.get("eventType")
    if kind not in ("Bounce", "Delivery", "Complaint"):
        return None
    bounce = data.get("bounce") or {}
    complaint = data.get("complaint") or {}
    delivery = data.get("delivery") or {}
    listed = bounce.get("bouncedRecipients") or complaint.get("complainedRecipients") or []
    recipients = [
        SesRecipient(
            address=str(item.get("emailAddress", "")).lower(),
            status=item.get("status"),
            action=item.get("action"),
            diagnostic=str(item.get("diagnosticCode", "")),
        )
        for item in listed
        if isinstance(item, dict) and item.get("emailAddress")
    ]
    recipients += [
        SesRecipient(address=str(a).lower()) for a in delivery.get("recipients", []) if isinstance(a, str)
    ]
    return SesNotification(
        kind=kind,
        permanent=bounce.get("bounceType") == "Permanent",
        recipients=recipients,
        feedback_type=complaint.get("complaintFeedbackType"),
        message_id=_message_id(data.get("mail") or {}),
    )


def _message_id(mail: dict[str, Any]) -> str | None:
    """The original's Message-ID from the notification's ``mail`` object (headers or commonHeaders)."""
    common = mail.get("commonHeaders") or {}
    value = common.get("messageId") if isinstance(common, dict) else None
    for item in mail.get("headers") or []:
        if isinstance(item, dict) and str(item.get("name", "")).lower() == "message-id":
            value = value or item.get("value")
    return normalized_message_id(str(value)) if value else None
