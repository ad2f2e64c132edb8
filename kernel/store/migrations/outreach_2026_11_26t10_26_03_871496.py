from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-26T10:26:03:871496"
VERSION = "1.38.0"
DESCRIPTION = "review indexes and full-text search over leads"

_SEARCH_COLUMNS = "business_name, category, location, city, website_url"
_NEW = "new.business_name, new.category, new.location, new.city, new.website_url"
_OLD = "old.business_name, old.category, old.location, old.city, old.website_url"

# The leads page filters by state with a category or city (compared ignoring case) and
# sorts by score; free text goes through an FTS5 trigram index (substring search) kept
# in step with the table by triggers. SQLite only: these are its own features.
STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS leads_state_category_score "
    "ON leads (lifecycle_state, category COLLATE NOCASE, score)",
    "CREATE INDEX IF NOT EXISTS leads_state_city_score ON leads (lifecycle_state, city COLLATE NOCASE, score)",
    "CREATE INDEX IF NOT EXISTS leads_state_score ON leads (lifecycle_state, score)",
    "CREATE INDEX IF NOT EXISTS leads_category_nocase ON leads (category COLLATE NOCASE)",
    "CREATE INDEX IF NOT EXISTS leads_city_nocase ON leads (city COLLATE NOCASE)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS leads_search USING fts5({_SEARCH_COLUMNS}, "
    "content='leads', content_rowid='id', tokenize='trigram')",
    f"CREATE TRIGGER IF NOT EXISTS leads_search_insert AFTER INSERT ON leads BEGIN "
    f"INSERT INTO leads_search(rowid, {_SEARCH_COLUMNS}) VALUES (new.id, {_NEW}); END",
    f"CREATE TRIGGER IF NOT EXISTS leads_search_delete AFTER DELETE ON leads BEGIN "
    f"INSERT INTO leads_search(leads_search, rowid, {_SEARCH_COLUMNS}) VALUES ('delete', old.id, {_OLD}); END",
    f"CREATE TRIGGER IF NOT EXISTS leads_search_update AFTER UPDATE OF {_SEARCH_COLUMNS} ON leads BEGIN "
    f"INSERT INTO leads_search(leads_search, rowid, {_SEARCH_COLUMNS}) VALUES ('delete', old.id, {_OLD}); "
    f"INSERT INTO leads_search(rowid, {_SEARCH_COLUMNS}) VALUES (new.id, {_NEW}); END",
    "INSERT INTO leads_search(leads_search) VALUES ('rebuild')",
]
# The same on PostgreSQL: lower() indexes for the case-blind filters, and pg_trgm GIN
# indexes that serve ILIKE '%word%' on each searched column.
POSTGRES_STATEMENTS = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS leads_state_category_score ON leads (lifecycle_state, lower(category), score)",
    "CREATE INDEX IF NOT EXISTS leads_state_city_score ON leads (lifecycle_state, lower(city), score)",
    "CREATE INDEX IF NOT EXISTS leads_state_score ON leads (lifecycle_state, score)",
    "CREATE INDEX IF NOT EXISTS leads_category_lower ON leads (lower(category))",
    "CREATE INDEX IF NOT EXISTS leads_city_lower ON leads (lower(city))",
    *(
        f"CREATE INDEX IF NOT EXISTS leads_{column}_trgm ON leads USING gin ({column} gin_trgm_ops)"
        for column in _SEARCH_COLUMNS.split(", ")
    ),
]


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="outreach", description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        if engine is None:
            return
        postgres = engine.engine_type in ("postgres", "cockroach")
        for statement in POSTGRES_STATEMENTS if postgres else STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
