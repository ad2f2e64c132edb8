"""The message a bounce returns or a complaint is about: where its copy is, and its Message-ID.

The copy comes as an attached ``message/rfc822``, as ``text/rfc822-headers``, or pasted
into the notice's text after a marker line. Some systems write the Message-ID without
its angle brackets (RFC 5965's own example does); it is given back as ``<id@host>`` so
it compares equal to the id we sent.
"""

from __future__ import annotations

import re
from email.message import Message

from .message import body_text, header, message_ids, part_text, walk

_MESSAGE_ID_LINE = re.compile(r"(?im)^message-id:[ \t]*(\S[^\r\n]*)")


def normalized_message_id(value: str) -> str | None:
    """``<id@host>`` from a Message-ID value, with or without its brackets."""
    ids = message_ids(value)
    if ids:
        return ids[0]
    bare = re.search(r"[^\s<>\"]+@[^\s<>\"]+", value or "")
    return f"<{bare.group(0)}>" if bare else None


def enclosed_message(message: Message) -> Message | None:
    """The attached copy of the original (``message/rfc822``), if there is one."""
    for part in walk(message):
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                return inner
    return None


def original_message_id(message: Message, copy_marker: re.Pattern[str] | None = None) -> str | None:
    """The Message-ID of the message ``message`` returns or reports on, or None."""
    inner = enclosed_message(message)
    if inner is not None:
        found = normalized_message_id(header(inner, "Message-ID"))
        if found:
            return found
    for part in walk(message):
        if part.get_content_type() == "text/rfc822-headers":
            line = _MESSAGE_ID_LINE.search(part_text(part))
            if line:
                return normalized_message_id(line.group(1))
    text, _ = body_text(message)
    marker = copy_marker.search(text) if copy_marker is not None else None
    # After the marker when there is one: the notice's own lines may quote other ids.
    line = _MESSAGE_ID_LINE.search(text[marker.start() :] if marker else text)
    return normalized_message_id(line.group(1)) if line else None
