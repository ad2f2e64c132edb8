from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T14:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "emails say whether they are a step of a sequence or a person's answer to a reply"

# Raw SQL, like the migrations before it. Every email written so far is a step of a
# sequence, so the default fills the existing rows.
_COLUMN = {
    "sqlite": "ALTER TABLE emails ADD COLUMN kind VARCHAR(16) NOT NULL DEFAULT 'sequence'",
    "postgres": "ALTER TABLE emails ADD COLUMN IF NOT EXISTS kind VARCHAR(16) NOT NULL DEFAULT 'sequence'",
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        postgres = engine is not None and engine.engine_type in ("postgres", "cockroach")
        await engine.run_ddl(_COLUMN["postgres" if postgres else "sqlite"])

    manager.add_raw(run)
    return manager
