"""Column mappings remembered per header, so the next file with the same columns is pre-filled.

A person who imports the same export every week chooses its columns once. The mappings
live beside the uploads (``imports/mappings.json``, 0600), keyed by a digest of the
header row; only the most recent few are kept.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

from outreach.kernel.private_files import write_private

#: The file, in the imports folder, that holds the mappings.
MAPPINGS_FILE = "mappings.json"
#: How many header rows are remembered; the oldest is forgotten first.
KEEP = 50


def _key(headers: list[str]) -> str:
    return hashlib.sha256("\x1f".join(headers).encode()).hexdigest()[:32]


def _load(folder: Path) -> dict[str, dict[str, str]]:
    try:
        return msgspec.json.decode((folder / MAPPINGS_FILE).read_bytes(), type=dict[str, dict[str, str]])
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return {}  # nothing remembered yet, or a damaged file: the form starts from the proposal


def recall_mapping(folder: Path, headers: list[str]) -> dict[str, str] | None:
    """The mapping last chosen for a file with exactly these ``headers``, if any."""
    return _load(folder).get(_key(headers))


def remember_mapping(folder: Path, headers: list[str], mapping: dict[str, str]) -> None:
    """Keep ``mapping`` for the next file with these ``headers``."""
    known = _load(folder)
    key = _key(headers)
    known.pop(key, None)
    known[key] = mapping  # insertion order is age order: the newest is last
    kept = dict(list(known.items())[-KEEP:])
    write_private(folder / MAPPINGS_FILE, msgspec.json.encode(kept))
