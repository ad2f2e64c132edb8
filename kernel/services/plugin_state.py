"""Small values plugins keep between runs, stored in the ``plugin_state`` table."""

from __future__ import annotations

from typing import Any

import msgspec

from ..store.engine import write_transaction
from ..store.tables import PluginStateRow


def _key(plugin: str, key: str) -> str:
    return f"{plugin}:{key}"


async def load(plugin: str, key: str, default: Any = None) -> Any:
    """The value ``plugin`` saved under ``key``, or ``default``."""
    row = await (
        PluginStateRow.select(PluginStateRow.value)
        .where(PluginStateRow.state_key == _key(plugin, key))
        .first()
    )
    if row is None:
        return default
    value = row["value"]
    return msgspec.json.decode(value) if isinstance(value, str) else value


async def save(plugin: str, key: str, value: Any) -> None:
    """Save ``value`` for ``plugin`` under ``key``, replacing what was there."""
    state_key = _key(plugin, key)
    async with write_transaction():
        updated = (
            await PluginStateRow.update({PluginStateRow.value: value})
            .where(PluginStateRow.state_key == state_key)
            .returning(PluginStateRow.id)
        )
        if not updated:
            await PluginStateRow.insert(PluginStateRow(state_key=state_key, value=value))
