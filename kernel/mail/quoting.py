"""The new text of a reply, without the message it quotes.

Mail clients quote in a handful of ways: ``>`` prefixes (top- or bottom-posted), an
attribution line ("On <date>, <name> wrote:", possibly wrapped over two lines, in many
languages), Outlook's "-----Original Message-----" or a "From: ... Sent: ..." block, and
underscore rulers. mail-parser-reply knows the headers of a dozen languages' clients; the
patterns here add the ones it lacks (Portuguese, Gmail's Polish, bare Japanese date
lines) and the cases it leaves in. What remains, signature lines like "Sent from my
iPhone" included, is what the person wrote.
"""

from __future__ import annotations

import re

from mailparser_reply import EmailReplyParser
from mailparser_reply.constants import MAIL_LANGUAGES

# Every language the library knows: a reply's language is not known before reading it.
_PARSER = EmailReplyParser(languages=[name for name in MAIL_LANGUAGES if name != "david"])

_ATTRIBUTION = re.compile(
    r"^\s*(on\s.{0,200}?(wrote|écrit|schrieb|escribió|scrisse|schreef|skrev|napisał)\s*:?"
    r"|le\s.{0,200}?a\s+écrit\s*:?|am\s.{0,200}?schrieb.*:?|el\s.{0,200}?escribió\s*:?"
    r"|il\s.{0,200}?ha\s+scritto\s*:?|op\s.{0,200}?schreef.*:?"
    r"|em\s.{0,200}?escreveu\s*:?|w\s+dniu\s.{0,200}?(pisze|napisał\(a\)|napisał|napisała)\s*:?"
    r"|den\s.{0,200}?skrev\s*:?|\d{4}年\d{1,2}月\d{1,2}日.{0,200}?(<[^>]+>|さん)\s*(:|：|のメッセージ:|は書きました:).*)\s*$",
    re.I | re.S,
)
_ATTRIBUTION_STARTS = ("on ", "le ", "am ", "el ", "il ", "op ", "em ", "w dniu", "den ")
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(original\s+message|ursprüngliche\s+nachricht|message\s+d'origine|mensaje\s+original"
    r"|messaggio\s+originale|oorspronkelijk\s+bericht|forwarded\s+message)\s*-{2,}|_{20,}|-{20,})\s*$",
    re.I,
)
_HEADER_BLOCK = re.compile(r"^\s*\*?(from|von|de|van|da)\s*:\*?\s+\S", re.I)
_SENT_LINE = re.compile(r"^\s*\*?(sent|gesendet|envoyé|enviado|inviato|verzonden|date|datum)\s*:", re.I)


def _cut_at_quote_header(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if _SEPARATOR.match(line):
            return lines[:index]
        joined = " ".join(part.strip() for part in lines[index : index + 2])
        if _ATTRIBUTION.match(line) or (
            line.strip().lower().startswith(_ATTRIBUTION_STARTS) and _ATTRIBUTION.match(joined)
        ):
            return lines[:index]
        if _HEADER_BLOCK.match(line) and any(
            _SENT_LINE.match(next_line) for next_line in lines[index + 1 : index + 4]
        ):
            return lines[:index]
    return lines


def _library_reply(text: str) -> str:
    """The newest reply as mail-parser-reply cuts it (its signature kept), or ``text`` if it finds none."""
    try:
        replies = _PARSER.read(text=text).replies
    except Exception:  # a library failure must not lose the message
        return text
    return replies[0].content if replies and replies[0].content.strip() else text


def reply_text(text: str) -> str:
    """What the sender wrote in ``text``, without quoted parts."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = _library_reply(text).split("\n")
    unquoted = [line for line in lines if not line.lstrip().startswith(">")]
    kept = _cut_at_quote_header(unquoted)
    # A bottom-posted reply starts with the attribution of the quote it answers.
    if not "".join(kept).strip():
        kept = [line for line in unquoted if not _ATTRIBUTION.match(line)]
    cleaned = "\n".join(line.rstrip() for line in kept)
    return re.sub(r"\n{3,}", "\n\n", cleaned).strip()
