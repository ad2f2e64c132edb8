from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "leads carry tags, each tag once per lead, found by tag through an index"

# The table is made in raw SQL because Piccolo runs a migration's raw steps before its
# add_table steps, and the unique (lead, tag) index needs the table.
_ID_COLUMN = {"sqlite": '"id" INTEGER PRIMARY KEY NOT NULL', "postgres": '"id" SERIAL PRIMARY KEY NOT NULL'}
_TABLE = (
    'CREATE TABLE IF NOT EXISTS "lead_tags" ({id}, '
    '"lead" INTEGER REFERENCES "leads" ("id") ON DELETE CASCADE ON UPDATE CASCADE DEFAULT null, '
    "\"tag\" VARCHAR(40) NOT NULL DEFAULT '', "
    '"created_at" TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)'
)
STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS lead_tags_lead_tag ON "lead_tags" ("lead", "tag")',
    'CREATE INDEX IF NOT EXISTS lead_tags_lead ON "lead_tags" ("lead")',
    'CREATE INDEX IF NOT EXISTS lead_tags_tag ON "lead_tags" ("tag")',
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
