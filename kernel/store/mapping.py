"""The one place where store rows become domain Structs and back.

Rows arrive as dicts from Piccolo queries. Personal data is decrypted on the way out
and encrypted (with its keyed hash) on the way in, so nothing above this module ever
sees a Fernet token and nothing below it ever sees clear text.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..addresses import sendable_address
from ..crypto import Vault
from ..identity import normalize_name
from ..models import (
    AuditEntry,
    Email,
    EnrichmentRecord,
    Enrollment,
    InboundRecord,
    Job,
    Lead,
    Suppression,
    Template,
    TrackingEvent,
)
from ..states import review_status

#: Lead columns that hold encrypted personal data.
LEAD_PII = ("email", "phone", "contact_name")
#: Email columns that hold encrypted personal data.
EMAIL_PII = ("to_address",)
#: Inbound message columns that hold encrypted personal data (who wrote, and what).
INBOUND_PII = ("address", "subject", "body", "reply_text")


def _json(value: Any, default: Any) -> Any:
    """Piccolo returns JSON columns as text on SQLite; decode them."""
    if value is None:
        return default
    if isinstance(value, str | bytes):
        return msgspec.json.decode(value) if value else default
    return value


def _record_from_column(stored: dict[str, Any], vault: Vault) -> EnrichmentRecord:
    """An :class:`EnrichmentRecord` from its stored form, its sealed ``data`` opened."""
    stored = dict(stored)
    sealed = stored.pop("sealed", None)
    if sealed is not None:
        stored["data"] = msgspec.json.decode(vault.decrypt(sealed) or "{}")
    return msgspec.convert(stored, EnrichmentRecord)


def enrichment_column(records: dict[str, EnrichmentRecord], vault: Vault) -> dict[str, Any]:
    """The ``enrichment`` column for ``records``: each record's ``data`` sealed.

    Enrichers find addresses, phone numbers and names, so the whole ``data`` of each
    record is encrypted; its enricher, confidence, source and time stay readable.
    """
    column = {}
    for name, record in records.items():
        stored = msgspec.to_builtins(record)
        stored["sealed"] = vault.encrypt(msgspec.json.encode(stored.pop("data", {})).decode())
        column[name] = stored
    return column


def lead_from_row(row: dict[str, Any], vault: Vault) -> Lead:
    """A :class:`Lead` from a ``leads`` row."""
    enrichment = {
        name: _record_from_column(record, vault) for name, record in _json(row.get("enrichment"), {}).items()
    }
    return Lead(
        id=row["id"],
        business_name=row["business_name"],
        category=row.get("category"),
        categories=_json(row.get("categories"), []),
        location=row.get("location"),
        city=row.get("city"),
        country_code=row.get("country_code"),
        latitude=row.get("latitude"),
        longitude=row.get("longitude"),
        maps_url=row.get("maps_url"),
        place_id=row.get("place_id"),
        website_url=row.get("website_url"),
        email=vault.decrypt(row.get("email")),
        phone=vault.decrypt(row.get("phone")),
        contact_name=vault.decrypt(row.get("contact_name")),
        rating=row.get("rating"),
        review_count=row.get("review_count"),
        lifecycle_state=row["lifecycle_state"],
        review_status=review_status(row["lifecycle_state"]),
        score=row.get("score"),
        discovery_source=row.get("discovery_source"),
        discovery_confidence=row.get("discovery_confidence"),
        discovery_metadata=_json(row.get("discovery_metadata"), {}),
        enrichment=enrichment,
        failure_reason=row.get("failure_reason"),
        version=row.get("version", 1),
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
    )


def lead_columns(values: dict[str, Any], vault: Vault) -> dict[str, Any]:
    """Column values for writing lead fields: personal data encrypted, email hashed, name keyed."""
    out = dict(values)
    if "business_name" in out:
        out["name_key"] = normalize_name(out["business_name"] or "")
    if "email" in out:
        # Stored in the form that sends: a non-ASCII domain in IDNA form.
        email = sendable_address(out["email"] or "") or None
        out["email"] = vault.encrypt(email)
        out["email_hash"] = vault.hash_email(email)
    for name in ("phone", "contact_name"):
        if name in out:
            out[name] = vault.encrypt(out[name])
    return out


def email_from_row(row: dict[str, Any], vault: Vault) -> Email:
    """An :class:`Email` from an ``emails`` row."""
    return Email(
        id=row["id"],
        lead_id=row["lead"],
        sequence_id=row.get("sequence_id"),
        step_number=row.get("step_number", 1),
        mailbox=row.get("mailbox"),
        sender_backend=row.get("sender_backend"),
        to_address=vault.decrypt(row.get("to_address")),
        from_address=row.get("from_address"),
        subject=row.get("subject") or "",
        body_text=row.get("body_text") or "",
        body_html=row.get("body_html"),
        message_id=row.get("message_id"),
        in_reply_to=row.get("in_reply_to"),
        references=_json(row.get("references"), []),
        provider_message_id=row.get("provider_message_id"),
        provider_thread_id=row.get("provider_thread_id"),
        state=row["state"],
        attempts=row.get("attempts", 0),
        due_at=row.get("due_at"),
        last_error=row.get("last_error"),
        needs_attention=bool(row.get("needs_attention")),
        category=row.get("category"),
        sent_at=row.get("sent_at"),
        version=row.get("version", 1),
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
        recipient_timezone=row.get("recipient_timezone"),
        claimed_by=row.get("claimed_by"),
        claimed_at=row.get("claimed_at"),
        variant=row.get("variant"),
        unsubscribed_at=row.get("unsubscribed_at"),
        kind=row.get("kind") or "sequence",
    )


def email_columns(values: dict[str, Any], vault: Vault) -> dict[str, Any]:
    """Column values for writing email fields: the recipient encrypted and hashed."""
    out = dict(values)
    if "to_address" in out:
        out["to_hash"] = vault.hash_email(out["to_address"])
        out["to_address"] = vault.encrypt(out["to_address"])
    return out


def job_from_row(row: dict[str, Any]) -> Job:
    """A :class:`Job` from a ``jobs`` row."""
    return Job(
        id=row["id"],
        kind=row["kind"],
        params=_json(row.get("params"), {}),
        state=row["state"],
        progress_done=row.get("progress_done") or 0,
        progress_total=row.get("progress_total"),
        counters=_json(row.get("counters"), {}),
        report=_json(row.get("report"), []),
        result=_json(row.get("result"), {}),
        error=row.get("error"),
        cancel_requested=bool(row.get("cancel_requested")),
        created_at=row.get("created_at"),
        started_at=row.get("started_at"),
        finished_at=row.get("finished_at"),
    )


def suppression_from_row(row: dict[str, Any], vault: Vault) -> Suppression:
    """A :class:`Suppression` from a ``suppressions`` row."""
    return Suppression(
        id=row["id"],
        email=vault.decrypt(row.get("email")),
        reason=row.get("reason") or "manual",
        source=row.get("source"),
        created_at=row.get("created_at"),
    )


def audit_from_row(row: dict[str, Any]) -> AuditEntry:
    """An :class:`AuditEntry` from an ``audit_log`` row."""
    return AuditEntry(
        id=row["id"],
        entity=row["entity"],
        entity_id=row["entity_id"],
        action=row["action"],
        actor=row["actor"],
        old_value=_json(row.get("old_value"), None),
        new_value=_json(row.get("new_value"), None),
        request_id=row.get("request_id"),
        created_at=row.get("created_at"),
    )


def reencrypt_column(column: str, value: Any, vault: Vault) -> Any:
    """A stored value with its Fernet tokens re-encrypted under ``vault``'s newest key.

    Most encrypted columns hold one token; ``enrichment`` holds JSON with one sealed
    token per record.
    """
    if column != "enrichment":
        return vault.reencrypt(value)
    return {
        name: {**record, "sealed": vault.reencrypt(record["sealed"])} if record.get("sealed") else record
        for name, record in _json(value, {}).items()
    }


def template_from_row(row: dict[str, Any]) -> Template:
    """A :class:`Template` from a ``templates`` row."""
    return Template(
        id=row["id"],
        name=row["name"],
        subject=row.get("subject") or "",
        body_text=row.get("body_text") or "",
        body_html=row.get("body_html"),
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
    )


def enrollment_from_row(row: dict[str, Any]) -> Enrollment:
    """An :class:`Enrollment` from an ``enrollments`` row."""
    return Enrollment(
        id=row["id"],
        lead_id=row["lead"],
        sequence_id=row["sequence"],
        mailbox=row.get("mailbox"),
        state=row["state"],
        last_step=row.get("last_step") or 0,
        next_due_at=row.get("next_due_at"),
        stop_reason=row.get("stop_reason"),
        version=row.get("version", 1),
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
    )


def inbound_from_row(row: dict[str, Any], vault: Vault) -> InboundRecord:
    """An :class:`InboundRecord` from an ``inbound_messages`` row."""
    return InboundRecord(
        id=row["id"],
        source=row["source"],
        uid=row.get("uid"),
        message_id=row.get("message_id"),
        kind=row["kind"],
        category=row.get("category"),
        return_date=row.get("return_date"),
        bounce_class=row.get("bounce_class"),
        address=vault.decrypt(row.get("address")),
        subject=vault.decrypt(row.get("subject")) or "",
        body=vault.decrypt(row.get("body")) or "",
        reply_text=vault.decrypt(row.get("reply_text")),
        email_id=row.get("email"),
        lead_id=row.get("lead"),
        matched_by=row.get("matched_by"),
        detail=_json(row.get("detail"), {}),
        applied=bool(row.get("applied")),
        received_at=row.get("received_at"),
        created_at=row.get("created_at"),
    )


def inbound_columns(values: dict[str, Any], vault: Vault) -> dict[str, Any]:
    """Column values for writing an inbound message: who and what encrypted, the address hashed."""
    out = dict(values)
    if "address" in out:
        out["address_hash"] = vault.hash_email(out["address"])
    for name in INBOUND_PII:
        if name in out:
            out[name] = vault.encrypt(out[name])
    return out


def tracking_event_from_row(row: dict[str, Any]) -> TrackingEvent:
    """A :class:`TrackingEvent` from a ``tracking_events`` row."""
    return TrackingEvent(
        id=row["id"],
        email_id=row["email"],
        kind=row["kind"],
        url=row.get("url"),
        user_agent=row.get("user_agent"),
        flagged=bool(row.get("flagged")),
        flag_reason=row.get("flag_reason"),
        created_at=row.get("created_at"),
    )


#: Every column that holds a Fernet token, by table name (``outreach keys rotate`` walks these).
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "leads": (*LEAD_PII, "enrichment"),
    "emails": EMAIL_PII,
    "suppressions": ("email",),
    "inbound_messages": INBOUND_PII,
}
