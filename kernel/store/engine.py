"""Opening the store: the SQLite engine, WAL mode, binding tables, and migrations.

Piccolo binds tables to an engine at class level, so a process has one bound
store at a time; :func:`open_database` rebinds it (tests open a fresh one each).
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
from pathlib import Path

from piccolo.apps.migrations.commands.base import BaseMigrationManager
from piccolo.apps.migrations.tables import Migration
from piccolo.engine.sqlite import TransactionType

from . import piccolo_conf
from .piccolo_app import APP_CONFIG
from .pool import PooledSQLiteEngine
from .tables import ALL_TABLES, LeadRow

APP_NAME = APP_CONFIG.app_name


def make_engine(path: Path, busy_timeout: float = 30.0) -> PooledSQLiteEngine:
    """An engine on the SQLite file at ``path``; writers wait ``busy_timeout`` s for the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return PooledSQLiteEngine(path=str(path), timeout=busy_timeout)


def bind(engine: PooledSQLiteEngine) -> None:
    """Point every table (ours and Piccolo's migration table) at ``engine``."""
    # Piccolo's migration runner looks its engine up through this variable.
    os.environ["PICCOLO_CONF"] = piccolo_conf.__name__
    piccolo_conf.DB = engine
    for table in (*ALL_TABLES, Migration):
        table._meta.db = engine


def current_engine() -> PooledSQLiteEngine:
    """The engine the tables are bound to."""
    return LeadRow._meta.db  # type: ignore[return-value]


def write_transaction():  # type: ignore[no-untyped-def]
    """A transaction that takes SQLite's write lock at BEGIN.

    Deferred transactions that read and then write fail with "database is locked"
    when two run at once; IMMEDIATE makes the second wait for the first instead.
    """
    return current_engine().transaction(transaction_type=TransactionType.immediate)


def read_transaction():  # type: ignore[no-untyped-def]
    """A deferred transaction for a series of reads: one connection and one snapshot for all.

    Outside a transaction Piccolo opens a new SQLite connection per query; a page that
    asks ten questions pays for ten connections.
    """
    return current_engine().transaction(transaction_type=TransactionType.deferred)


async def checkpoint() -> None:
    """Copy the write-ahead log into the database file and empty it.

    Until then, old versions of changed pages (an erased address among them) stay
    readable in the ``-wal`` file.
    """
    await current_engine().run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")


@contextlib.contextmanager
def _file_lock(path: Path):  # type: ignore[no-untyped-def]
    """Serialize migrations between processes that open the same database at once."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def migrate() -> list[str]:
    """Apply every migration not yet applied; return the ids applied now."""
    manager = BaseMigrationManager()
    modules = manager.get_migration_modules(APP_CONFIG.resolved_migrations_folder_path)
    applied: list[str] = []
    # Piccolo prints its progress; the CLI and the server keep their own output.
    with contextlib.redirect_stdout(io.StringIO()):
        await Migration.create_table(if_not_exists=True)
        ran = set(await Migration.get_migrations_which_ran(app_name=APP_NAME))
        for migration_id in sorted(set(modules) - ran):
            migration = await modules[migration_id].forwards()
            await migration.run()
            await Migration.insert(Migration(name=migration_id, app_name=APP_NAME))
            applied.append(migration_id)
    return applied


async def open_database(path: Path, busy_timeout: float = 30.0) -> PooledSQLiteEngine:
    """Open (creating if needed) the database at ``path``, in WAL mode, fully migrated."""
    engine = make_engine(path, busy_timeout)
    bind(engine)
    lock = path.with_name(path.name + ".lock")
    with _file_lock(lock):
        await engine.run_ddl("PRAGMA journal_mode=WAL")
        await migrate()
    return engine
