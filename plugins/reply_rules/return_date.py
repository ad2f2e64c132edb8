"""Finding the date an out-of-office sender says they are back.

Handles "back on May 5th", "returning 5 May 2026", "until Monday, June 3", "zurück am
12. Mai", "de retour le 5 mai", and numeric dates (ISO, day/month/year, and the US
month/day order when the day cannot be a month). A date without a year is the next
such date after the message arrived.
"""

from __future__ import annotations

import re
from datetime import date

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan", "januar", "janvier", "enero", "gennaio", "januari", "jänner"),
            ("february", "feb", "februar", "février", "fevrier", "febrero", "febbraio", "februari"),
            ("march", "mar", "märz", "maerz", "mars", "marzo", "maart"),
            ("april", "apr", "avril", "abril", "aprile"),
            ("may", "mai", "mayo", "maggio", "mei"),
            ("june", "jun", "juni", "juin", "junio", "giugno"),
            ("july", "jul", "juli", "juillet", "julio", "luglio"),
            ("august", "aug", "août", "aout", "agosto", "augustus"),
            ("september", "sep", "sept", "septembre", "septiembre", "settembre"),
            ("october", "oct", "oktober", "octobre", "octubre", "ottobre", "okt"),
            ("november", "nov", "novembre", "noviembre"),
            ("december", "dec", "dezember", "décembre", "decembre", "diciembre", "dicembre", "dez"),
        ],
        start=1,
    )
    for name in names
}
_MONTH = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_CUE = (
    r"(?:back|return(?:ing)?|returns|until|till|from|in\s+the\s+office|zurück|ab\s+dem|ab|bis|"
    r"de\s+retour|jusqu'?au|hasta\s+el|regreso|fino\s+al|rientro)"
)
_DAY_MONTH = re.compile(
    rf"{_CUE}[^.\n]{{0,40}}?\b(\d{{1,2}})(?:st|nd|rd|th|\.)?\s+(?:of\s+|de\s+)?({_MONTH})\.?(?:\s+(\d{{4}}))?\b",
    re.I,
)
_MONTH_DAY = re.compile(
    rf"{_CUE}[^.\n]{{0,40}}?\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(\d{{4}}))?\b", re.I
)
_ISO = re.compile(rf"{_CUE}[^\n]{{0,40}}?\b(\d{{4}})-(\d{{2}})-(\d{{2}})\b", re.I)
_NUMERIC = re.compile(rf"{_CUE}[^\n]{{0,40}}?\b(\d{{1,2}})[./](\d{{1,2}})(?:[./](\d{{2,4}}))?\b", re.I)


def _build(year: int | None, month: int, day: int, received: date) -> date | None:
    try:
        if year is not None:
            return date(year if year > 100 else 2000 + year, month, day)
        candidate = date(received.year, month, day)
        return candidate if candidate >= received else date(received.year + 1, month, day)
    except ValueError:
        return None


def find_return_date(text: str, received: date) -> date | None:
    """The return date stated in ``text``, or None."""
    if match := _ISO.search(text):
        return _build(int(match.group(1)), int(match.group(2)), int(match.group(3)), received)
    if match := _DAY_MONTH.search(text):
        year = int(match.group(3)) if match.group(3) else None
        return _build(year, _MONTHS[match.group(2).lower()], int(match.group(1)), received)
    if match := _MONTH_DAY.search(text):
        year = int(match.group(3)) if match.group(3) else None
        return _build(year, _MONTHS[match.group(1).lower()], int(match.group(2)), received)
    if match := _NUMERIC.search(text):
        first, second = int(match.group(1)), int(match.group(2))
        year = int(match.group(3)) if match.group(3) else None
        # Day first (most of the world), unless that is impossible and month first is not.
        if second <= 12:
            return _build(year, second, first, received)
        if first <= 12:
            return _build(year, first, second, received)
    return None
