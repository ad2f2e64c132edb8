"""Whether a model's answer is one short sentence that states nothing the facts do not.

The rule is deliberately small, so that a person can predict it. An answer is refused when:

- it is empty, holds more than one sentence, or has more than ``max_words`` words;
- it has a number (a year, a price, a phone number's digits) that no fact has;
- it has an email address, a web address or a domain name that no fact has;
- it has a capitalized word after the first one (a name, a place, a brand) that is no
  word of the facts. The first word of the sentence is capitalized anyway, and "I" is
  always allowed; the business's name and city are facts, so they pass.

Lowercase claims ("award-winning", "twenty years") are not caught: a word list cannot
judge meaning. The check catches invented names, places and numbers, which are what
make a cold email wrong in a way the reader notices.
"""

from __future__ import annotations

import re

from msgspec import Struct

_QUOTES = "\"'“”‘’«»„`"
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]*\s+(?=\S)")
#: Words a period follows without ending the sentence ("Dr. Lee", "Main St. Bakery").
_ABBREVIATIONS = frozenset(
    ["dr", "mr", "mrs", "ms", "st", "jr", "sr", "prof", "mt", "ave", "e.g", "i.e", "etc", "vs", "no"]
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_WEB = re.compile(r"https?://\S+|www\.\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_FIRST_PERSON = {"i", "i'm", "i've", "i'd", "i'll"}


class Verdict(Struct, frozen=True):
    """The line to keep (``line``), or why the answer was refused (``reason``)."""

    line: str | None = None
    reason: str | None = None


def _norm_word(word: str) -> str:
    word = word.replace("’", "'").casefold().strip("'-")
    return word.removesuffix("'s")


def _vocabulary(facts: list[str]) -> set[str]:
    words: set[str] = set()
    for fact in facts:
        for word in _WORD.findall(fact):
            norm = _norm_word(word)
            words.add(norm)
            words.update(part for part in norm.split("-") if part)
    return words


def _trim(token: str) -> str:
    return token.rstrip(".,;:!?)\"'”’")


def _sentences(text: str) -> int:
    """How many sentences ``text`` holds: ends of sentence, not counting those after an abbreviation."""
    ends = 0
    for match in _SENTENCE_END.finditer(text):
        before = text[: match.start()].rstrip("\"'”’)")
        word = before.rsplit(None, 1)[-1] if before.split() else ""
        if word.endswith(".") and word[:-1].casefold() in _ABBREVIATIONS:
            continue
        ends += 1
    return ends + 1


def judge(answer: str, facts: list[str], max_words: int) -> Verdict:
    """Accept ``answer`` as an opening line, cleaned up, or say why not (see the module's rule)."""
    text = answer.strip().strip(_QUOTES).strip()
    if not text:
        return Verdict(reason="the model's answer was empty")
    if len([line for line in text.splitlines() if line.strip()]) > 1 or _sentences(text) > 1:
        return Verdict(reason="the answer has more than one sentence")
    text = " ".join(text.split())
    count = len(text.split())
    if count > max_words:
        return Verdict(reason=f"the answer has {count} words; the limit is {max_words}")
    blob = " ".join(facts).casefold()
    for pattern, what in ((_EMAIL, "the address"), (_WEB, "the web address")):
        for match in pattern.finditer(text):
            found = _trim(match.group(0))
            if found.casefold() not in blob:
                return Verdict(reason=f"it names {what} '{found}', which no fact has")
    known_numbers = set(_NUMBER.findall(blob))
    for number in _NUMBER.findall(text):
        if number not in known_numbers:
            return Verdict(reason=f"it has the number '{number}', which no fact has")
    vocabulary = _vocabulary(facts)
    for position, match in enumerate(_WORD.finditer(text)):
        word = match.group(0)
        norm = _norm_word(word)
        if position == 0 or not word[0].isupper() or norm in _FIRST_PERSON:
            continue
        parts = [part for part in norm.split("-") if part]
        if norm not in vocabulary and not all(part in vocabulary for part in parts):
            return Verdict(reason=f"it names '{_trim(word)}', which no fact mentions")
    if text[-1] not in ".!?":
        text += "."
    return Verdict(line=text)
