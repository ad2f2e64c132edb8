"""Rotating the data key: new personal data under a fresh key, old data re-encrypted.

The new key material (fresh key first, old keys after it) is saved BEFORE any row is
touched, so a crash part-way leaves every row readable; once every row is re-encrypted
the old keys are dropped. The keyed-hash key never changes, so look-ups and the
suppression list keep working across rotations.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ..crypto import KEY_ENV, Vault, key_file, store_in_keyring, write_key_file
from ..errors import OutreachError
from ..store.engine import write_transaction
from ..store.mapping import ENCRYPTED_COLUMNS, reencrypt_column
from ..store.tables import ALL_TABLES
from . import audit

if TYPE_CHECKING:
    from ..runtime import Runtime

BATCH = 500


class RotationReport(msgspec.Struct, kw_only=True):
    """What a rotation changed."""

    rows: dict[str, int]
    key_source: str
    new_key_material: str | None = None


def _save(vault: Vault, rt: Runtime) -> None:
    if rt.vault.source == "the OS keyring":
        store_in_keyring(vault)
    else:
        write_key_file(key_file(rt.settings.data_path), vault)


async def rotate_keys(rt: Runtime, *, actor: str, allow_env: bool = False) -> RotationReport:
    """Re-encrypt every personal-data column under a fresh key and save the new key material.

    :param allow_env: when the key comes from ``OUTREACH_DATA_KEY``, outreach cannot
        update it; with this flag the new material is returned for the person to set,
        without it the rotation is refused.
    """
    from_env = KEY_ENV in rt.vault.source
    if from_env and not allow_env:
        raise OutreachError(
            f"The data key comes from {KEY_ENV}, which outreach cannot change. Run "
            "`outreach keys rotate --print-new-key`, then set the printed value in that variable "
            "before starting outreach again."
        )
    rotated = rt.vault.rotated()
    if not from_env:
        _save(rotated, rt)
    tables = {table._meta.tablename: table for table in ALL_TABLES}
    counts: dict[str, int] = {}
    for name, columns in ENCRYPTED_COLUMNS.items():
        table = tables[name]
        pk = table._meta.primary_key
        counts[name] = 0
        last_id = 0
        while True:
            rows = await (
                table.select(pk, *(getattr(table, c) for c in columns))
                .where(pk > last_id)
                .order_by(pk)
                .limit(BATCH)
            )
            if not rows:
                break
            async with write_transaction():
                for row in rows:
                    values = {
                        getattr(table, c): reencrypt_column(c, row[c], rotated) for c in columns if row[c]
                    }
                    if values:
                        await table.update(values).where(pk == row["id"])
                        counts[name] += 1
            last_id = rows[-1]["id"]
    final = rotated.newest_only()
    if not from_env:
        _save(final, rt)
    rt.vault = final
    async with write_transaction():
        await audit.record("keys", 0, "rotated", actor, new={"rows": counts})
    return RotationReport(
        rows=counts,
        key_source=rt.vault.source,
        new_key_material=final.to_json() if from_env else None,
    )
