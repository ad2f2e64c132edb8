"""Looking a Message-ID up in an IMAP Sent folder (stdlib imaplib, run in a thread)."""

from __future__ import annotations

import imaplib
import ssl

from .options import SentFolderOptions


def _context(options: SentFolderOptions) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=options.cert_bundle)
    if not options.validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def find_message(options: SentFolderOptions, message_id: str) -> bool:
    """Whether the folder holds a message with this Message-ID (an error when it cannot tell)."""
    if options.tls:
        conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            options.host, options.port, ssl_context=_context(options), timeout=options.timeout
        )
    else:
        conn = imaplib.IMAP4(options.host, options.port, timeout=options.timeout)
        if options.starttls:
            conn.starttls(ssl_context=_context(options))
    try:
        if options.username:
            password = options.password.resolve() if options.password else ""
            conn.login(options.username, password)
        status, detail = conn.select(_quote(options.folder), readonly=True)
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open folder {options.folder!r}: {detail!r}")
        status, data = conn.search(None, "HEADER", "Message-ID", _quote(message_id.strip()))
        if status != "OK":
            raise imaplib.IMAP4.error(f"search failed: {data!r}")
        return bool(data and data[0] and data[0].split())
    finally:
        try:
            conn.logout()
        except (OSError, imaplib.IMAP4.error):
            conn.shutdown()
