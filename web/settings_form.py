"""The Settings form: its fields, the values it starts with, and the config changes a submission makes.

The form edits what a first real send needs: who sends (name, postal address, the
public URL of the links), the mailboxes with their policy, the default sender and its
server. Secrets are entered as ``env:``/``keyring:`` references or typed once: a typed
secret goes to the OS keyring and the file gets the reference, so no secret is ever
written to the file or the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from outreach.kernel.config import MailboxSettings, Settings
from outreach.kernel.config_file import ConfigChanges
from outreach.kernel.secrets import SCHEMES

#: The OS keyring service under which typed secrets are kept.
KEYRING_SERVICE = "outreach"

#: Secret fields of the form: field name -> key path in the file.
SECRET_FIELDS: dict[str, tuple[str, ...]] = {
    "smtp_password": ("sender", "smtp", "password"),
    "gmail_client_secret": ("sender", "gmail", "client_secret"),
    "gmail_refresh_token": ("sender", "gmail", "refresh_token"),
}
#: How the SMTP connection is secured, as the form offers it.
SECURITY_CHOICES = {
    "starttls": "STARTTLS (usually port 587)",
    "tls": "TLS from the start (usually port 465)",
    "none": "none (a server on this machine only)",
}
#: Form fields of one mailbox row, in display order.
MAILBOX_FIELDS = ("name", "from_address", "daily_cap", "window", "weekdays_only", "min_gap_seconds")


class MailboxRow(msgspec.Struct, kw_only=True):
    """One mailbox as the form shows it (text, as typed)."""

    index: int
    previous_name: str = ""
    name: str = ""
    from_address: str = ""
    daily_cap: str = "30"
    window: str = "09:00-17:00"
    weekdays_only: bool = True
    min_gap_seconds: str = "90"
    remove: bool = False

    @property
    def blank(self) -> bool:
        """A row left empty (the spare row for a new mailbox)."""
        return not self.name.strip() and not self.from_address.strip()


class SettingsForm(msgspec.Struct, kw_only=True):
    """The form's values (as typed), and what is wrong with them by field."""

    sender_name: str = ""
    physical_address: str = ""
    public_url: str = ""
    backend: str = "outbox"
    smtp_host: str = ""
    smtp_port: str = ""
    smtp_security: str = "starttls"
    smtp_username: str = ""
    gmail_client_id: str = ""
    mailboxes: list[MailboxRow] = []
    #: The references in effect for each secret field (shown, never a value).
    secret_refs: dict[str, str] = {}
    errors: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings, mailboxes: list[MailboxSettings]) -> SettingsForm:
        """The form as the settings in effect fill it, with one spare mailbox row."""
        smtp = settings.sender.backends.get("smtp", {})
        gmail = settings.sender.backends.get("gmail", {})
        if smtp.get("tls"):
            security = "tls"
        elif smtp.get("starttls") is False:
            security = "none"
        else:
            security = "starttls"
        rows = [
            MailboxRow(
                index=i,
                previous_name=m.name,
                name=m.name,
                from_address=m.from_address,
                daily_cap=str(m.daily_cap),
                window=m.window,
                weekdays_only=m.weekdays_only,
                min_gap_seconds=str(m.min_gap_seconds),
            )
            for i, m in enumerate(mailboxes)
        ]
        rows.append(MailboxRow(index=len(rows)))
        refs = {}
        for field, path in SECRET_FIELDS.items():
            value = settings.sender.backends.get(path[1], {}).get(path[2])
            if value:
                refs[field] = str(value)
        return cls(
            sender_name=settings.compliance.sender_name or "",
            physical_address=settings.compliance.physical_address or "",
            public_url=settings.web.public_url or "",
            backend=settings.sender.backend,
            smtp_host=str(smtp.get("host", "")),
            smtp_port=str(smtp.get("port", "")),
            smtp_security=security,
            smtp_username=str(smtp.get("username", "") or ""),
            gmail_client_id=str(gmail.get("client_id", "") or ""),
            mailboxes=rows,
            secret_refs=refs,
        )


def _text(data: Mapping[str, Any], name: str) -> str:
    return str(data.get(name) or "").strip()


def parse_form(data: Mapping[str, Any], previous_refs: dict[str, str]) -> tuple[SettingsForm, dict[str, str]]:
    """The submitted form, and the typed secrets (field -> value) to keep in the keyring.

    A secret field left empty keeps the reference in effect; one that reads like a
    reference is taken as one; anything else is a secret typed in clear.
    """
    indexes = sorted(
        {int(key.split("-")[1]) for key in data if key.startswith("mb-") and key.split("-")[1].isdigit()}
    )
    rows = [
        MailboxRow(
            index=i,
            previous_name=_text(data, f"mb-{i}-previous_name"),
            name=_text(data, f"mb-{i}-name"),
            from_address=_text(data, f"mb-{i}-from_address"),
            daily_cap=_text(data, f"mb-{i}-daily_cap"),
            window=_text(data, f"mb-{i}-window"),
            weekdays_only=bool(data.get(f"mb-{i}-weekdays_only")),
            min_gap_seconds=_text(data, f"mb-{i}-min_gap_seconds"),
            remove=bool(data.get(f"mb-{i}-remove")),
        )
        for i in indexes
    ]
    refs = dict(previous_refs)
    typed: dict[str, str] = {}
    for field in SECRET_FIELDS:
        value = _text(data, field)
        if not value:
            continue
        scheme = value.partition(":")[0]
        if scheme in SCHEMES and ":" in value:
            refs[field] = value
        else:
            typed[field] = value
            refs[field] = f"keyring:{KEYRING_SERVICE}/{'.'.join(SECRET_FIELDS[field])}"
    form = SettingsForm(
        sender_name=_text(data, "sender_name"),
        physical_address=_text(data, "physical_address"),
        public_url=_text(data, "public_url"),
        backend=_text(data, "backend") or "outbox",
        smtp_host=_text(data, "smtp_host"),
        smtp_port=_text(data, "smtp_port"),
        smtp_security=_text(data, "smtp_security") or "starttls",
        smtp_username=_text(data, "smtp_username"),
        gmail_client_id=_text(data, "gmail_client_id"),
        mailboxes=rows,
        secret_refs=refs,
    )
    return form, typed


def _number(form: SettingsForm, field: str, value: str, what: str) -> int | None:
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        form.errors[field] = f"{what} must be a whole number (0 or more), not '{value}'."
        return None
    return number


def changes_of(form: SettingsForm, senders: list[str]) -> ConfigChanges:
    """The config changes the form asks for; problems with single fields go to ``form.errors``."""
    values: dict[tuple[str, ...], Any] = {
        ("compliance", "sender_name"): form.sender_name or None,
        ("compliance", "physical_address"): form.physical_address or None,
        ("web", "public_url"): form.public_url or None,
    }
    if form.backend not in senders:
        form.errors["backend"] = f"Choose one of the installed senders: {', '.join(senders)}."
    values["sender", "backend"] = form.backend
    if form.backend == "smtp" or form.smtp_host:
        if not form.smtp_host:
            form.errors["smtp_host"] = "Type the SMTP server's name, for example smtp.example.com."
        values["sender", "smtp", "host"] = form.smtp_host or None
        values["sender", "smtp", "port"] = _number(form, "smtp_port", form.smtp_port, "The SMTP port")
        values["sender", "smtp", "username"] = form.smtp_username or None
        security = form.smtp_security if form.smtp_security in SECURITY_CHOICES else "starttls"
        values["sender", "smtp", "tls"] = True if security == "tls" else None
        values["sender", "smtp", "starttls"] = {"starttls": True, "tls": None, "none": False}[security]
    if form.backend == "gmail" or form.gmail_client_id:
        values["sender", "gmail", "client_id"] = form.gmail_client_id or None
    for field, path in SECRET_FIELDS.items():
        if field in form.secret_refs:
            values[path] = form.secret_refs[field]
    mailboxes = []
    seen: set[str] = set()
    for row in form.mailboxes:
        if row.remove or row.blank:
            continue
        prefix = f"mb-{row.index}"
        if not row.name:
            form.errors[f"{prefix}-name"] = "Give the mailbox a name (for example main)."
        elif row.name in seen:
            form.errors[f"{prefix}-name"] = f"Two mailboxes are named '{row.name}'; names must differ."
        seen.add(row.name)
        if "@" not in row.from_address:
            form.errors[f"{prefix}-from_address"] = (
                "Type the address mail comes from, for example Ann Example <ann@example.com>."
            )
        mailboxes.append(
            {
                "previous_name": row.previous_name or row.name,
                "name": row.name,
                "from_address": row.from_address,
                "daily_cap": _number(form, f"{prefix}-daily_cap", row.daily_cap, "The daily cap"),
                "window": row.window or None,
                "weekdays_only": row.weekdays_only,
                "min_gap_seconds": _number(form, f"{prefix}-min_gap_seconds", row.min_gap_seconds, "The gap"),
            }
        )
    return ConfigChanges(values=values, mailboxes=mailboxes)
