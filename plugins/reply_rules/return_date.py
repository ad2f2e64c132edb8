"""Finding the date an out-of-office sender says they are back.

Handles written dates ("back on May 5th", "returning 5 May 2026", "until Monday, June
3", "zurück am 12. Mai", "de retour le 5 mai", "volto em 5 de maio"), numeric ones (ISO,
and ``5/6`` or ``05.06.2026``), and days named relative to the message ("tomorrow",
"morgen", "next Monday", "back on Friday", "lundi"). The rules:

- the day/month order of a numeric date follows the language of the words around it:
  day first, except English written for the United States and the few countries that
  write month first (the lead's country when known, else a North American time zone
  on the message), and whichever order is impossible is not taken;
- a date without a year is the next such date after the message arrived;
- a return is never more than six months ahead and never before the message: a date
  that would be is not the return date (``back on 06/05`` received on 1 June is the
  fifth of June, not next May), and when neither order fits there is no return date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

#: How far ahead a stated return may be; anything later is read wrong or not a return.
HORIZON = timedelta(days=183)

#: Countries that write the month first (ISO 3166-1 alpha-2).
MONTH_FIRST_COUNTRIES = frozenset({"US", "PR", "VI", "GU", "AS", "MP", "UM", "PH", "FM", "MH", "PW"})

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            (
                "january",
                "jan",
                "januar",
                "janvier",
                "enero",
                "gennaio",
                "januari",
                "jänner",
                "janeiro",
                "stycznia",
            ),
            (
                "february",
                "feb",
                "februar",
                "février",
                "fevrier",
                "febrero",
                "febbraio",
                "februari",
                "fevereiro",
            ),
            ("march", "mar", "märz", "maerz", "mars", "marzo", "maart", "março", "marco", "marca"),
            ("april", "apr", "avril", "abril", "aprile", "kwietnia"),
            ("may", "mai", "mayo", "maggio", "mei", "maio", "maja", "maj"),
            ("june", "jun", "juni", "juin", "junio", "giugno", "junho", "czerwca"),
            ("july", "jul", "juli", "juillet", "julio", "luglio", "julho", "lipca"),
            ("august", "aug", "août", "aout", "agosto", "augustus", "augusti", "sierpnia"),
            ("september", "sep", "sept", "septembre", "septiembre", "settembre", "setembro", "września"),
            ("october", "oct", "oktober", "octobre", "octubre", "ottobre", "okt", "outubro", "października"),
            ("november", "nov", "novembre", "noviembre", "novembro", "listopada"),
            (
                "december",
                "dec",
                "dezember",
                "décembre",
                "decembre",
                "diciembre",
                "dicembre",
                "dez",
                "dezembro",
                "grudnia",
            ),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))

#: Words that introduce a return, by language; the language decides a numeric date's order.
_CUES = {
    "en": r"back|return(?:ing)?|returns|until|till|through|from|in\s+the\s+office|resum(?:e|ing)",
    "de": r"zurück|ab\s+dem|ab|bis(?:\s+zum)?|wieder",
    "fr": r"de\s+retour|jusqu'?au|jusqu'?à|retour|dès",
    "es": r"hasta\s+el|hasta|regreso|regresaré|vuelvo|de\s+vuelta",
    "it": r"fino\s+al|rientro|rientrerò|di\s+ritorno",
    "nl": r"terug|tot\s+en\s+met|tot",
    "pt": r"volto|retorno|regresso|até",
    "pl": r"wracam|powrót|do\s+dnia",
    "sv": r"tillbaka|åter|till\s+och\s+med|till",
}
_CUE = r"\b(?:" + "|".join(f"(?P<{lang}>{words})" for lang, words in _CUES.items()) + r")\b"
_GAP = r"[^.\n]{0,40}?"

_ISO = re.compile(rf"{_CUE}{_GAP}\b(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}})\b", re.I)
_DAY_MONTH = re.compile(
    rf"{_CUE}{_GAP}\b(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:of\s+|de\s+)?(?P<mon>{_MONTH})\.?"
    rf"(?:\s+(?:de\s+)?(?P<y>\d{{4}}))?\b",
    re.I,
)
_MONTH_DAY = re.compile(
    rf"{_CUE}{_GAP}\b(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?\b", re.I
)
_NUMERIC = re.compile(rf"{_CUE}{_GAP}\b(?P<a>\d{{1,2}})[./](?P<b>\d{{1,2}})(?:[./](?P<y>\d{{2,4}}))?\b", re.I)

_TOMORROW = re.compile(
    rf"{_CUE}{_GAP}\b(?:tomorrow|morgen|demain|mañana|domani|amanhã|jutro|imorgon)\b", re.I
)
_WEEKDAYS = [
    (
        "monday",
        "montag",
        "lundi",
        "lunes",
        "lunedì",
        "lunedi",
        "maandag",
        "segunda",
        "poniedziałek",
        "måndag",
    ),
    ("tuesday", "dienstag", "mardi", "martes", "martedì", "martedi", "dinsdag", "terça", "wtorek", "tisdag"),
    (
        "wednesday",
        "mittwoch",
        "mercredi",
        "miércoles",
        "mercoledì",
        "mercoledi",
        "woensdag",
        "quarta",
        "środa",
        "onsdag",
    ),
    (
        "thursday",
        "donnerstag",
        "jeudi",
        "jueves",
        "giovedì",
        "giovedi",
        "donderdag",
        "quinta",
        "czwartek",
        "torsdag",
    ),
    (
        "friday",
        "freitag",
        "vendredi",
        "viernes",
        "venerdì",
        "venerdi",
        "vrijdag",
        "sexta",
        "piątek",
        "fredag",
    ),
    ("saturday", "samstag", "samedi", "sábado", "sabato", "zaterdag", "sobota", "lördag"),
    ("sunday", "sonntag", "dimanche", "domingo", "domenica", "zondag", "niedziela", "söndag"),
]
_WEEKDAY_NUMBER = {name: number for number, names in enumerate(_WEEKDAYS) for name in names}
_WEEKDAY = re.compile(
    rf"{_CUE}{_GAP}\b(?:next\s+|on\s+|am\s+|le\s+|el\s+|op\s+|na\s+|w\s+|på\s+)?"
    rf"(?P<day>{'|'.join(sorted(_WEEKDAY_NUMBER, key=len, reverse=True))})\b",
    re.I,
)


def _language(match: re.Match[str]) -> str:
    return next((lang for lang in _CUES if match.group(lang)), "en")


def _within(candidate: date, received: date) -> bool:
    return received <= candidate <= received + HORIZON


def _dated(year: str | None, month: int, day: int, received: date) -> date | None:
    """The date meant, its year inferred when not written; None if impossible or out of range."""
    try:
        if year:
            found = date(int(year) if len(year) == 4 else 2000 + int(year), month, day)
        else:
            found = date(received.year, month, day)
            if found < received:
                found = date(received.year + 1, month, day)
    except ValueError:
        return None
    return found if _within(found, received) else None


def _month_first(language: str, country: str | None, offset: timedelta | None) -> bool:
    """Whether a numeric date in ``language`` is written month first by this sender."""
    if language != "en":
        return False
    if country:
        return country.upper() in MONTH_FIRST_COUNTRIES
    # No country: a North American time zone on the message (UTC-4 to UTC-10) says US.
    return offset is not None and timedelta(hours=-10) <= offset <= timedelta(hours=-4)


def _numeric(
    match: re.Match[str], received: date, country: str | None, offset: timedelta | None
) -> date | None:
    first, second, year = int(match.group("a")), int(match.group("b")), match.group("y")
    day_first = (second, first)
    month_first = (first, second)
    orders = (
        [month_first, day_first]
        if _month_first(_language(match), country, offset)
        else [day_first, month_first]
    )
    for month, day in orders:
        if found := _dated(year, month, day, received):
            return found
    return None


def _relative(text: str, received: date) -> date | None:
    if _TOMORROW.search(text):
        return received + timedelta(days=1)
    if match := _WEEKDAY.search(text):
        # The coming such day, strictly after the day the message came.
        ahead = (_WEEKDAY_NUMBER[match.group("day").lower()] - received.weekday() - 1) % 7 + 1
        return received + timedelta(days=ahead)
    return None


def find_return_date(text: str, received: date | datetime, *, country: str | None = None) -> date | None:
    """The return date stated in ``text`` for a message received at ``received``, or None.

    ``received`` as a datetime carries the message's time zone, a hint to the date order
    when ``country`` (the sender's, ISO alpha-2) is not known.
    """
    offset = received.utcoffset() if isinstance(received, datetime) else None
    day = received.date() if isinstance(received, datetime) else received
    for pattern in (_ISO, _DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(text):
            month = int(match.group("m")) if "m" in match.groupdict() else _MONTHS[match.group("mon").lower()]
            if found := _dated(match.group("y"), month, int(match.group("d")), day):
                return found
    for match in _NUMERIC.finditer(text):
        if found := _numeric(match, day, country, offset):
            return found
    return _relative(text, day)
