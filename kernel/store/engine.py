"""Opening the store: the SQLite engine (or PostgreSQL's), WAL mode, binding tables, and migrations.

Piccolo binds tables to an engine at class level, so a process has one bound
store at a time; :func:`open_store` rebinds it (tests open a fresh one each). With
``[database] url`` the store is on PostgreSQL (:mod:`.postgres`); else it is the SQLite
file in the data directory.

Piccolo's migration machinery takes a fifth of a second to import (it pulls in a code
formatter), so it is imported only when a migration is pending: opening an up-to-date
database compares the migration files' ids with the ``migration`` table and stops there.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from filelock import FileLock
from piccolo.engine.sqlite import TransactionType

from ..private_files import create_private_file, private_dir, tighten
from . import postgres
from .pool import PooledSQLiteEngine
from .tables import ALL_TABLES, LeadRow

if TYPE_CHECKING:
    from ..config import Settings

#: The ``app_name`` of :data:`~outreach.kernel.store.piccolo_app.APP_CONFIG` (a test checks
#: they agree); spelled out here so that opening the store need not import Piccolo's apps.
APP_NAME = "outreach"

#: The folder of the migration modules (``piccolo_app`` points Piccolo at the same one).
MIGRATIONS_FOLDER = Path(__file__).resolve().with_name("migrations")

#: The line of a Piccolo migration module that names its id: ``ID = "2026-11-26T09:52:52:016019"``.
_ID_LINE = re.compile(r"""^ID\s*=\s*["']([^"']+)["']""", re.MULTILINE)


def make_engine(path: Path, busy_timeout: float = 30.0) -> PooledSQLiteEngine:
    """An engine on the SQLite file at ``path``; writers wait ``busy_timeout`` s for the lock."""
    _prepare_file(path)
    return PooledSQLiteEngine(path=str(path), timeout=busy_timeout)


def _prepare_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (SQLite would make it 0644).

    SQLite gives the ``-wal`` and ``-shm`` files it creates the mode of the database
    file, so they are 0600 too; those an older version left are narrowed here.
    """
    if not path.parent.exists():
        # A folder made here holds the database: private from the start.
        private_dir(path.parent)
    create_private_file(path)
    for suffix in ("-wal", "-shm", "-journal", ".lock"):
        tighten(path.with_name(path.name + suffix))


def is_postgres(engine: Any = None) -> bool:
    """Whether the store (or ``engine``) is on PostgreSQL."""
    engine = engine if engine is not None else LeadRow._meta.db
    return getattr(engine, "engine_type", "") in ("postgres", "cockroach")


def bind(engine: Any) -> None:
    """Point every table of ours at ``engine`` (:func:`migrate` binds Piccolo's migration table)."""
    for table in ALL_TABLES:
        table._meta.db = engine


def _bind_migrations(engine: Any) -> None:
    """Point Piccolo's migration table and its configuration module at ``engine``."""
    from piccolo.apps.migrations.tables import Migration

    from . import piccolo_conf

    # Piccolo's migration runner looks its engine up through this variable.
    os.environ["PICCOLO_CONF"] = piccolo_conf.__name__
    piccolo_conf.DB = engine
    Migration._meta.db = engine


def current_engine() -> Any:
    """The engine the tables are bound to (:class:`PooledSQLiteEngine`, or PostgreSQL's)."""
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


async def checkpoint(tables: tuple[str, ...] = ()) -> None:
    """Make what was just deleted unreadable in the database's files.

    SQLite: copy the write-ahead log into the database file and empty it (until then,
    old versions of changed pages, an erased address among them, stay readable in the
    ``-wal`` file; freed pages are overwritten, ``secure_delete``). PostgreSQL: rewrite
    ``tables`` without their dead rows (:func:`.postgres.vacuum`).
    """
    engine = current_engine()
    if is_postgres(engine):
        await postgres.vacuum(engine, tables)
        return
    await engine.run_ddl("PRAGMA wal_checkpoint(TRUNCATE)")


def _file_lock(path: Path) -> FileLock:
    """Serialize migrations between processes that open the same database at once.

    filelock takes an OS lock on every platform (``flock`` here, ``LockFileEx`` on
    Windows); the lock file is private like the database beside it.
    """
    return FileLock(path, mode=0o600)


def migration_ids() -> set[str] | None:
    """The id of every migration module, read from its text; ``None`` if one names none."""
    ids = set()
    # The files Piccolo's runner imports: every .py of the folder but __init__.py.
    for path in MIGRATIONS_FOLDER.glob("*.py"):
        if path.name == "__init__.py":
            continue
        found = _ID_LINE.search(path.read_text(encoding="utf-8"))
        if found is None:
            return None
        ids.add(found.group(1))
    return ids


async def applied_ids(engine: Any) -> set[str]:
    """The ids of the migrations recorded as applied in the database of ``engine``."""
    if is_postgres(engine):
        return await postgres.applied_ids(engine, APP_NAME)
    tables = await engine.run_ddl(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'migration'"
    )
    if not tables:
        return set()
    rows = await engine.run_ddl(f"SELECT name FROM migration WHERE app_name = '{APP_NAME}'")
    return {row["name"] for row in rows}


async def migrate(database: Path | None = None) -> list[str]:
    """Apply every migration not yet applied; return the ids applied now.

    A database that already has tables is first copied aside (once per version of
    outreach), so ``outreach self-update --rollback`` can give the older version back
    the schema it knows.
    """
    engine = current_engine()
    known = migration_ids()
    applied = await applied_ids(engine)
    if known is not None and known <= applied:
        return []
    if database is not None and applied:
        from ..self_update import backup_before_migrating
        from ..updates import running_version

        backup_before_migrating(database, running_version())
    return await _run_migrations(engine)


async def _run_migrations(engine: Any) -> list[str]:
    """Apply the pending migrations with Piccolo's runner; return their ids."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.tables import Migration

    from .piccolo_app import APP_CONFIG

    _bind_migrations(engine)
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
        await migrate(path)
    return engine


async def open_postgres_unmigrated(url: str, password: str | None = None, pool_size: int = 10) -> Any:
    """An engine on the PostgreSQL database at ``url``, its pool open and the tables bound to it."""
    # Piccolo's engine asks the server its version synchronously when it is made.
    engine = await asyncio.to_thread(postgres.make_postgres_engine, url, password, pool_size)
    await postgres.start(engine)
    bind(engine)
    return engine


async def open_postgres(url: str, password: str | None = None, pool_size: int = 10) -> Any:
    """Open the PostgreSQL database at ``url`` and migrate it (one process at a time)."""
    engine = await open_postgres_unmigrated(url, password, pool_size)
    try:
        async with postgres.migration_lock(engine):
            await migrate()
    except BaseException:
        await engine.close_pool()
        raise
    return engine


async def open_store(settings: Settings) -> Any:
    """The store ``settings`` name, open and migrated: PostgreSQL with ``[database] url``, else SQLite."""
    database = settings.database
    if database.url:
        from ..secrets import resolve

        return await open_postgres(database.url, resolve(database.password), database.pool_size)
    return await open_database(settings.database_path, database.busy_timeout)
