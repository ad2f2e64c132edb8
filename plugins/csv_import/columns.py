"""What a CSV file's columns hold before it is imported: its header, a preview, a proposed mapping.

A file whose header names no business name cannot be imported as it is. The browser
then shows a :class:`ColumnPlan` so a person can say which column holds which lead
field; the mapping they choose is the same ``options["mapping"]`` that the command
line's ``--map FIELD=HEADER`` gives. The file is read exactly as the import reads it
(:func:`.reader.decode`, :func:`.reader.open_table`), so the preview shows what the
import will see.
"""

from __future__ import annotations

import csv

import msgspec

from outreach.kernel import ImportFileError

from .reader import HEADER_ALIASES, decode, match_columns, normalize_header, open_table

#: What the form calls each lead field the import can fill, in the order it shows them.
FIELD_LABELS: dict[str, str] = {
    "business_name": "Business name",
    "category": "Category",
    "email": "Email",
    "phone": "Phone",
    "website_url": "Website",
    "location": "Address",
    "city": "City",
    "country_code": "Country",
    "contact_name": "Contact person",
    "maps_url": "Google Maps link",
    "place_id": "Google place id",
    "rating": "Rating",
    "review_count": "Number of reviews",
    "latitude": "Latitude",
    "longitude": "Longitude",
}
#: Fields without which a row cannot become a lead.
REQUIRED = ("business_name",)
#: How many data rows the preview shows, and how much of each cell.
PREVIEW_ROWS = 5
PREVIEW_CELL = 80
#: How a page names the separator the file was read with.
SEPARATORS = {",": "commas", ";": "semicolons", "\t": "tabs", "|": "vertical bars"}


class FieldChoice(msgspec.Struct, frozen=True):
    """One lead field of the mapping form and the column chosen for it ("" for none)."""

    field: str
    label: str
    required: bool
    header: str


class ColumnPlan(msgspec.Struct, frozen=True):
    """A CSV file's header, its first rows, and the columns the import recognizes by name."""

    headers: list[str]
    #: Lead field -> header, as the import's aliases find them.
    proposed: dict[str, str]
    preview: list[list[str]]
    encoding: str
    separator: str

    @property
    def complete(self) -> bool:
        """Whether the header alone gives every required field (no mapping is needed)."""
        return all(field in self.proposed for field in REQUIRED)

    def choices(self, mapping: dict[str, str] | None = None) -> list[FieldChoice]:
        """Every lead field with its column: from ``mapping`` where given, else as proposed."""
        chosen = self.proposed if mapping is None else mapping
        return [
            FieldChoice(field, label, field in REQUIRED, chosen.get(field, ""))
            for field, label in FIELD_LABELS.items()
        ]

    def problems(self, mapping: dict[str, str]) -> list[str]:
        """What is wrong with ``mapping`` (lead field -> header, "" for none) for this file."""
        found: list[str] = []
        users: dict[str, list[str]] = {}
        known = {normalize_header(h) for h in self.headers}
        for field, header in mapping.items():
            if field not in HEADER_ALIASES:
                found.append(f"'{field}' is not a lead field the import can fill.")
            elif header and normalize_header(header) not in known:
                found.append(f"The file has no column '{header}'; choose one of the columns it has.")
            elif header:
                users.setdefault(normalize_header(header), []).append(FIELD_LABELS.get(field, field))
        for field in REQUIRED:
            if not mapping.get(field, "").strip():
                found.append(
                    f"Choose the column that holds the {FIELD_LABELS[field].lower()}: "
                    "a row without one cannot become a lead."
                )
        for header in self.headers:
            fields = users.pop(normalize_header(header), [])
            if len(fields) > 1:
                found.append(
                    f"The column '{header}' is chosen for {', '.join(fields[:-1])} and {fields[-1]}; "
                    "choose it for one field only."
                )
        return found


def inspect_columns(data: bytes, *, name: str = "The file") -> ColumnPlan:
    """The :class:`ColumnPlan` of a CSV file's bytes; :class:`ImportFileError` when it is not one."""
    text, encoding = decode(data, name=name)
    reader, header = open_table(text, name=name)
    if not any(cell.strip() for cell in header):
        raise ImportFileError(f"The first row of {name} is empty; it must name the columns.")
    preview: list[list[str]] = []
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                padded = [*row[: len(header)], *[""] * (len(header) - len(row))]
                preview.append([cell.strip()[:PREVIEW_CELL] for cell in padded])
            if len(preview) >= PREVIEW_ROWS:
                break
    except csv.Error:
        pass  # the preview ends where the file stops being readable; the import reports that row
    if not preview:
        raise ImportFileError(f"{name} has a header row but no rows of data; there is nothing to import.")
    proposed = {field: header[index] for field, index in match_columns(header, {}).items()}
    delimiter = reader.dialect.delimiter
    return ColumnPlan(
        headers=header,
        proposed=proposed,
        preview=preview,
        encoding=encoding,
        separator=SEPARATORS.get(delimiter, f"'{delimiter}'"),
    )
