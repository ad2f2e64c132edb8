"""``[sender.smtp]``: the SMTP server, its security, the login, DKIM signing, and an optional Sent folder."""

from __future__ import annotations

import msgspec

from outreach.kernel import SecretRef


class SentFolderOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[sender.smtp.sent_folder]``: the IMAP folder where the provider files what its SMTP server sent.

    Many providers (Gmail, Outlook, Fastmail...) keep a copy of each message sent
    through their SMTP server in a Sent folder; outreach searches it by Message-ID to
    settle a send a crash interrupted.
    """

    host: str
    port: int = 993
    #: Implicit TLS (port 993); with False, ``starttls`` decides.
    tls: bool = True
    starttls: bool = False
    username: str | None = None
    password: SecretRef | None = None
    folder: str = "Sent"
    timeout: float = 30.0
    validate_certs: bool = True
    cert_bundle: str | None = None


class SmtpOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """``[sender.smtp]`` (each mailbox may override any key)."""

    host: str = "localhost"
    port: int = 587
    #: Upgrade with STARTTLS; None: when the server offers it (always for port 587 in practice).
    starttls: bool | None = None
    #: Implicit TLS from the first byte (port 465).
    tls: bool = False
    username: str | None = None
    password: SecretRef | None = None
    #: Seconds for connecting and for each command's reply.
    timeout: float = 30.0
    validate_certs: bool = True
    #: A CA bundle to trust (a company CA, or a test's self-signed certificate).
    cert_bundle: str | None = None
    #: The name sent in EHLO (default: this machine's name).
    local_hostname: str | None = None
    #: A connection idle this long is closed rather than reused.
    idle_seconds: float = 60.0
    sent_folder: SentFolderOptions | None = None
    #: DKIM: the selector whose public key is published at ``<selector>._domainkey.<from domain>``.
    dkim_selector: str | None = None
    #: DKIM: the private key, as ``env:NAME`` or ``keyring:service/name`` holding its PEM or
    #: the path of its PEM file.
    dkim_private_key: str | None = None

    def __post_init__(self) -> None:
        if (self.dkim_selector is None) != (self.dkim_private_key is None):
            raise ValueError("dkim_selector and dkim_private_key go together: set both, or neither")
        if self.dkim_private_key is not None and "-----BEGIN" in self.dkim_private_key:
            raise ValueError(
                "dkim_private_key must not hold the key itself: name a file, or write 'env:NAME' "
                "or 'keyring:service/name'"
            )
