"""Reading a CSV file of businesses: encoding, dialect, header mapping, row checks.

Each row becomes a :class:`DiscoveredBusiness` or a problem with its line number.
A row without a name is skipped; a row with a bad value (an address that is not an
email, a rating that is not a number) keeps its good fields and reports the bad one.
"""

from __future__ import annotations

import _csv
import codecs
import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec

from outreach.kernel import DiscoveredBusiness, ImportFileError

from .countries import country_code

#: Lead fields and the header names (compared case- and punctuation-insensitively) that mean them.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "business_name": (
        "name",
        "business name",
        "business",
        "company",
        "company name",
        "title",
        "organization",
    ),
    "category": ("category", "categories", "type", "industry", "main category"),
    "location": ("address", "location", "full address", "street address", "street"),
    "city": ("city", "town", "locality"),
    "country_code": ("country code", "country"),
    "phone": ("phone", "phone number", "telephone", "tel", "mobile"),
    "website_url": ("website", "website url", "url", "site", "web", "homepage", "domain"),
    "email": ("email", "e mail", "email address", "mail"),
    "maps_url": ("maps url", "google maps url", "maps link", "map link", "place url", "link", "google maps"),
    "contact_name": ("contact", "contact name", "owner", "person"),
    "place_id": ("place id",),
    "rating": ("rating", "stars", "review rating"),
    "review_count": ("reviews", "review count", "reviews count", "number of reviews"),
    "latitude": ("latitude", "lat"),
    "longitude": ("longitude", "lng", "lon", "long"),
}

_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+\.[^@\s<>(),;:\"]{2,}$")
_MAX_FIELD = 10_000


class RowProblem(msgspec.Struct):
    """Something wrong with one row; ``skipped`` says whether the row was left out."""

    line: int
    message: str
    skipped: bool


def normalize_header(header: str) -> str:
    """``header`` as the aliases are written: case-folded, punctuation turned into single spaces."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", header.casefold()).split())


def read_text(path: Path) -> tuple[str, str]:
    """The file's text and the encoding it was read with (see :func:`decode`)."""
    path = path.expanduser()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImportFileError(f"There is no file at {path}; check the path.") from None
    except IsADirectoryError:
        raise ImportFileError(f"{path} is a folder; give the path of a .csv file.") from None
    except OSError as exc:
        raise ImportFileError(f"{path} cannot be read: {exc.strerror}.") from None
    return decode(data, name=str(path))


def decode(data: bytes, *, name: str = "The file") -> tuple[str, str]:
    """The text of a CSV file's bytes and the encoding it was read with.

    UTF-8 (with or without a byte-order mark) first; else the encoding charset-normalizer
    detects, which covers Excel's "Unicode text" (UTF-16) and "CSV" (the Windows code page:
    Windows-1252 in Western Europe and the Americas) exports.
    """
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode("utf-8-sig" if encoding == "utf-8" else encoding, errors="replace"), encoding
    if b"\x00" not in data[:8192]:
        try:
            return data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    detected = _detect(data)
    if detected is None:
        raise ImportFileError(f"{name} looks like a binary file, not CSV text; export it as CSV first.")
    return detected


def _detect(data: bytes) -> tuple[str, str] | None:
    """``(text, encoding name)`` as charset-normalizer reads ``data``; None when it is not text."""
    from charset_normalizer import from_bytes  # loads its tables: only for files that are not UTF-8

    nul = b"\x00" in data[:8192]
    # NUL bytes occur in text only in UTF-16 and UTF-32; elsewhere they mean a binary file.
    isolation = ["utf_16", "utf_16_le", "utf_16_be", "utf_32"] if nul else None
    matches = from_bytes(data, cp_isolation=isolation)
    best = matches.best()
    if best is None:
        return None
    text, encoding = str(best), best.encoding
    if nul and "\x00" in text:
        return None
    western = next((m for m in matches if m.encoding == "cp1252"), None)
    if "cp1252" in best.could_be_from_charset:
        return text, "windows-1252"
    if western is not None and western.chaos <= best.chaos and western.coherence >= best.coherence:
        # A short file reads as well in several code pages: Excel's Western one decides the tie.
        return str(western), "windows-1252"
    return text, encoding.replace("_", "-").replace("cp125", "windows-125")


def match_columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """Which column holds which lead field: explicit ``mapping`` first, then the aliases.

    A field mapped to an empty header is left empty, even where an alias would match.
    """
    normalized = [normalize_header(h) for h in header]
    columns: dict[str, int] = {}
    unmapped: set[str] = set()
    for field, wanted in mapping.items():
        if field not in HEADER_ALIASES:
            known = ", ".join(HEADER_ALIASES)
            raise ImportFileError(f"'{field}' is not a lead field that can be mapped (use one of: {known}).")
        if not wanted.strip():
            unmapped.add(field)
            continue
        if normalize_header(wanted) not in normalized:
            raise ImportFileError(
                f"The mapping names a column '{wanted}' for {field}, but the header has no such column "
                f"(it has: {', '.join(header)})."
            )
        columns[field] = normalized.index(normalize_header(wanted))
    taken = set(columns.values())
    for field, aliases in HEADER_ALIASES.items():
        if field in columns or field in unmapped:
            continue
        for alias in aliases:
            if alias in normalized and normalized.index(alias) not in taken:
                columns[field] = normalized.index(alias)
                taken.add(columns[field])
                break
    return columns


def resolve_columns(header: list[str], mapping: dict[str, str]) -> dict[str, int]:
    """:func:`match_columns`, refusing a header that gives no business name."""
    columns = match_columns(header, mapping)
    if "business_name" not in columns:
        raise ImportFileError(
            "The CSV header has no column for the business name (looked for: "
            f"{', '.join(HEADER_ALIASES['business_name'])}). Rename that column, or say which one it is: "
            "in the browser, the import asks for the columns of a file it does not recognize; on the "
            "command line, add `--map business_name=Company`."
        )
    return columns


def _number(value: str, kind: type[float] | type[int]) -> float | int:
    cleaned = value.replace(",", "").replace("(", "").replace(")", "").strip()
    return kind(float(cleaned)) if kind is int else kind(cleaned)


def _business(values: dict[str, str], line: int) -> tuple[DiscoveredBusiness | None, list[RowProblem]]:
    problems: list[RowProblem] = []
    name = values.get("business_name", "").strip()
    if not name:
        return None, [RowProblem(line, "has no business name; the row was skipped", True)]
    fields: dict[str, object] = {"business_name": name}
    for field in (
        "category",
        "location",
        "city",
        "phone",
        "website_url",
        "maps_url",
        "contact_name",
        "place_id",
    ):
        if values.get(field, "").strip():
            fields[field] = values[field].strip()
    if fields.get("category"):
        fields["categories"] = [c.strip() for c in str(fields["category"]).split(",") if c.strip()]
        fields["category"] = fields["categories"][0] if fields["categories"] else None
    metadata: dict[str, object] = {"csv_line": line}
    country = values.get("country_code", "").strip()
    if country:
        code = country.upper() if len(country) == 2 and country.isalpha() else country_code(country)
        if code:
            fields["country_code"] = code
        else:
            problems.append(
                RowProblem(
                    line,
                    f"country '{country[:40]}' is not a country outreach knows; it was kept as written",
                    False,
                )
            )
        if code != country:
            metadata["country"] = country
    email = values.get("email", "").strip()
    if email.lower().startswith("mailto:"):
        email = email[7:]
    if email:
        if _EMAIL.match(email):
            fields["email"] = email.lower()  # not casefold: it turns ß into ss, another domain
        else:
            problems.append(
                # The value itself is not quoted: job reports are stored in clear.
                RowProblem(line, "the email column does not hold a valid address; it was left out", False)
            )
    for field, kind in (("rating", float), ("review_count", int), ("latitude", float), ("longitude", float)):
        raw = values.get(field, "").strip()
        if not raw:
            continue
        try:
            fields[field] = _number(raw, kind)
        except ValueError:
            problems.append(RowProblem(line, f"{field} '{raw[:40]}' is not a number; it was left out", False))
    rating = fields.get("rating")
    if isinstance(rating, float) and not 0 <= rating <= 5:
        problems.append(RowProblem(line, f"rating {rating} is outside 0 to 5; it was left out", False))
        del fields["rating"]
    return DiscoveredBusiness(**fields, metadata=metadata), problems  # type: ignore[arg-type]


def open_table(text: str, *, name: str = "The file") -> tuple[_csv.Reader, list[str]]:
    """A CSV reader over ``text`` in its sniffed dialect, past the header row, and that header."""
    if not text.strip():
        raise ImportFileError(f"{name} is empty; it needs a header row and at least one row of data.")
    sample = text[:16384]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise ImportFileError(f"{name} has no readable header row ({exc}).") from None
    return reader, header


def read_rows(
    text: str, mapping: dict[str, str] | None = None, *, name: str = "The file"
) -> Iterator[tuple[DiscoveredBusiness | None, list[RowProblem]]]:
    """Yield ``(business or None, problems)`` for every data row of CSV ``text``."""
    reader, header = open_table(text, name=name)
    columns = resolve_columns(header, mapping or {})
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield (
                None,
                [RowProblem(line, f"cannot be parsed as CSV ({exc}); the row was skipped", True)],
            )
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            yield (
                None,
                [
                    RowProblem(
                        line,
                        f"has {len(row)} fields but the header has {len(header)} "
                        "(an unquoted comma?); the row was skipped",
                        True,
                    )
                ],
            )
            continue
        if any(len(cell) > _MAX_FIELD for cell in row):
            yield (
                None,
                [RowProblem(line, "has a field longer than 10,000 characters; the row was skipped", True)],
            )
            continue
        values = {field: row[index] if index < len(row) else "" for field, index in columns.items()}
        yield _business(values, line)
