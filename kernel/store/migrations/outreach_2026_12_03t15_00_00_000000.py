from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-03T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ids are 64-bit and reals double precision on PostgreSQL, as SQLite's are"

# Piccolo's Serial is PostgreSQL's 32-bit SERIAL; a store that writes audit rows by the
# million outgrows it. Every id, every column that refers to one, and the sequences
# behind the ids become BIGINT. Piccolo's Real is PostgreSQL's 4-byte REAL, which keeps
# a coordinate to about a metre and turns a score of 0.85 into 0.8500000238: every REAL
# column becomes DOUBLE PRECISION. Nothing to do on SQLite, whose INTEGER is 64-bit and
# REAL 8 bytes.
_REFERENCES = {
    "lead_tags": ("lead",),
    "sequence_steps": ("sequence", "template"),
    "sequence_variants": ("sequence", "template"),
    "emails": ("lead", "sequence_id"),
    "enrollments": ("lead", "sequence"),
    "audit_log": ("entity_id",),
    "inbound_messages": ("email", "lead"),
    "tracking_events": ("email",),
}
_TABLES = (
    "leads",
    "lead_tags",
    "templates",
    "sequences",
    "sequence_steps",
    "sequence_variants",
    "mailboxes",
    "emails",
    "enrollments",
    "suppressions",
    "jobs",
    "audit_log",
    "plugin_state",
    "inbound_messages",
    "tracking_events",
)


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        if engine is None or engine.engine_type not in ("postgres", "cockroach"):
            return
        for table in _TABLES:
            columns = ("id", *_REFERENCES.get(table, ()))
            changes = ", ".join(f'ALTER COLUMN "{column}" TYPE BIGINT' for column in columns)
            await engine.run_ddl(f'ALTER TABLE "{table}" {changes}')
            await engine.run_ddl(f"ALTER SEQUENCE IF EXISTS \"{table}_id_seq\" AS BIGINT")
        reals = await engine.run_ddl(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = 'real'"
        )
        for row in reals:
            if row["table_name"] in _TABLES:
                await engine.run_ddl(
                    f'ALTER TABLE "{row["table_name"]}" ALTER COLUMN "{row["column_name"]}" TYPE DOUBLE PRECISION'
                )

    manager.add_raw(run)
    return manager
