from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T13:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the outbox reads due emails in order from an index"

# The planner asks for the first N queued emails by due time. With an index on state
# alone SQLite sorts every queued email for each batch; on (state, due_at) it reads
# them in order and stops at N.
STATEMENTS = ["CREATE INDEX IF NOT EXISTS emails_state_due ON emails (state, due_at)"]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        if engine is None:
            return
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
