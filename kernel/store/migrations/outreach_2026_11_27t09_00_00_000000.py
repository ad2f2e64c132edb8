from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString

from outreach.kernel.identity import normalize_name

ID = "2026-11-27T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "leads carry their normalized name, to match a business across sources"

# The column is added in raw SQL because Piccolo runs a migration's raw steps before
# its add_column steps, and the backfill needs the column.
STATEMENTS = [
    "ALTER TABLE leads ADD COLUMN name_key VARCHAR(512) DEFAULT NULL",
    "CREATE INDEX IF NOT EXISTS leads_name_key ON leads (name_key)",
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for statement in STATEMENTS:
            await engine.run_ddl(statement)
        rows = await engine.run_ddl("SELECT id, business_name FROM leads")
        for row in rows:
            key = normalize_name(row["business_name"] or "")
            await engine.run_querystring(
                QueryString("UPDATE leads SET name_key = {} WHERE id = {}", key, row["id"])
            )

    manager.add_raw(run)
    return manager
