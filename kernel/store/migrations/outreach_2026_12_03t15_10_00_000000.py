from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T15:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "job_units: the units of a splittable job (a grid's cells), claimed by any worker"

# Raw SQL because Piccolo runs a migration's raw steps before its add_table steps, and
# the indexes need the table. Ids are 64-bit on PostgreSQL, as every other id is.
_ID_COLUMN = {
    "sqlite": '"id" INTEGER PRIMARY KEY NOT NULL',
    "postgres": '"id" BIGSERIAL PRIMARY KEY NOT NULL',
}
_JOB_COLUMN = {"sqlite": "INTEGER", "postgres": "BIGINT"}
_TABLE = (
    'CREATE TABLE IF NOT EXISTS "job_units" ({id}, '
    '"job" {job} REFERENCES "jobs" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
    '"position" INTEGER NOT NULL DEFAULT 0, '
    "\"unit\" JSON NOT NULL DEFAULT '{{}}', "
    "\"state\" VARCHAR(32) NOT NULL DEFAULT 'queued', "
    '"owner" VARCHAR(255) DEFAULT null, '
    '"heartbeat_at" TIMESTAMPTZ DEFAULT null, '
    '"attempts" INTEGER NOT NULL DEFAULT 0, '
    '"progress_done" INTEGER NOT NULL DEFAULT 0, '
    '"progress_total" INTEGER DEFAULT null, '
    "\"counters\" JSON NOT NULL DEFAULT '{{}}', "
    "\"report\" JSON NOT NULL DEFAULT '[]', "
    '"error" TEXT DEFAULT null, '
    '"created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)'
)
STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS job_units_job_position ON "job_units" ("job", "position")',
    'CREATE INDEX IF NOT EXISTS job_units_state ON "job_units" ("state")',
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        postgres = engine is not None and engine.engine_type in ("postgres", "cockroach")
        kind = "postgres" if postgres else "sqlite"
        await engine.run_ddl(_TABLE.format(id=_ID_COLUMN[kind], job=_JOB_COLUMN[kind]))
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
