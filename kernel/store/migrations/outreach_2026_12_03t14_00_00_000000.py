from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T14:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "steps have variants (A/B tests); emails name their variant and when they were unsubscribed"

# Raw SQL because Piccolo runs a migration's raw steps before its add_table steps, and
# the indexes need the table.
_ID_COLUMN = {"sqlite": '"id" INTEGER PRIMARY KEY NOT NULL', "postgres": '"id" SERIAL PRIMARY KEY NOT NULL'}
_TABLE = (
    'CREATE TABLE IF NOT EXISTS "sequence_variants" ({id}, '
    '"sequence" INTEGER REFERENCES "sequences" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
    '"position" INTEGER NOT NULL DEFAULT 1, '
    "\"name\" VARCHAR(64) NOT NULL DEFAULT '', "
    '"template" INTEGER REFERENCES "templates" ("id") ON DELETE SET NULL ON UPDATE CASCADE DEFAULT null, '
    "\"subject\" TEXT NOT NULL DEFAULT '', "
    "\"body_text\" TEXT NOT NULL DEFAULT '', "
    '"body_html" TEXT DEFAULT null, '
    '"weight" REAL NOT NULL DEFAULT 1.0, '
    '"stopped" BOOLEAN NOT NULL DEFAULT false, '
    '"created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp, '
    '"updated_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)'
)
STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS sequence_variants_step_name ON "sequence_variants" '
    '("sequence", "position", "name")',
    'CREATE INDEX IF NOT EXISTS sequence_variants_sequence ON "sequence_variants" ("sequence")',
    "ALTER TABLE emails ADD COLUMN variant VARCHAR(64) DEFAULT NULL",
    "ALTER TABLE emails ADD COLUMN unsubscribed_at TIMESTAMPTZ DEFAULT NULL",
    "CREATE INDEX IF NOT EXISTS emails_sequence_step_variant ON emails (sequence_id, step_number, variant)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        postgres = engine is not None and engine.engine_type in ("postgres", "cockroach")
        kind = "postgres" if postgres else "sqlite"
        await engine.run_ddl(_TABLE.format(id=_ID_COLUMN[kind]))
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
