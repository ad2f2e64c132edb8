"""``outreach plugins``, ``outreach config show``, ``outreach db migrate`` and ``outreach db copy``."""

from __future__ import annotations

import click

from outreach.kernel.config import secret_references, settings_as_dict
from outreach.kernel.config_check import config_problems, describe_problems
from outreach.kernel.crypto import load_vault
from outreach.kernel.plugins import build_plugin_host
from outreach.kernel.secrets import resolve
from outreach.kernel.store import postgres
from outreach.kernel.store.engine import bind, make_engine, migrate, open_postgres_unmigrated

from .common import echo_json, fail, run, state


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins: version, hooks implemented, what each registered."""
    settings = state(ctx).settings()
    host = run(_host(settings))
    infos = host.plugins()
    if as_json:
        echo_json({"plugins": infos, "failed": host.failures, "disabled": settings.disabled})
        return
    for info in infos:
        click.echo(f"{info.name} {info.version or ''} ({info.origin})")
        click.echo(f"  hooks: {', '.join(info.hooks) or 'none'}")
        for kind, names in info.registered.items():
            click.echo(f"  {kind}: {', '.join(names)}")
    for failure in host.failures:
        click.secho(f"{failure.name}: NOT LOADED, {failure.error}", fg="red")
    if settings.disabled:
        click.echo(f"disabled in config: {', '.join(settings.disabled)}")


async def _host(settings):  # type: ignore[no-untyped-def]
    return build_plugin_host(settings, vault=load_vault(settings.data_path))


@click.group("config")
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.pass_context
def show(ctx: click.Context) -> None:
    """Print the configuration in effect as JSON; secrets appear as references, never values.

    Then list every problem start-up would refuse (a key a plugin's table does not take, a
    sender that is not installed, a secret in clear) on stderr, and exit 1 if there is one.
    """
    settings = state(ctx).settings()
    data = settings_as_dict(settings)
    data["secrets"] = secret_references(data)
    data["keys"] = {"data_key_source": load_vault(settings.data_path).source}
    echo_json(data)
    # Printed first all the same: what is in effect helps to see what is wrong.
    problems = config_problems(settings, run(_host(settings)))
    if problems:
        fail(describe_problems(problems, settings.source))


@click.group("db")
def db() -> None:
    """Manage the database."""


@db.command("migrate")
@click.pass_context
def migrate_command(ctx: click.Context) -> None:
    """Apply pending schema migrations (start-up does this too)."""
    settings = state(ctx).settings()

    async def main() -> list[str]:
        if settings.database.url:
            engine = await open_postgres_unmigrated(
                settings.database.url, resolve(settings.database.password), settings.database.pool_size
            )
            try:
                async with postgres.migration_lock(engine):
                    return await migrate()
            finally:
                await engine.close_pool()
        engine = make_engine(settings.database_path, settings.database.busy_timeout)
        bind(engine)
        await engine.run_ddl("PRAGMA journal_mode=WAL")
        return await migrate()

    applied = run(main())
    where = postgres.redacted(settings.database.url) if settings.database.url else settings.database_path
    click.echo(
        f"{where}: {len(applied)} migration(s) applied." if applied else f"{where}: already up to date."
    )


@db.command("copy")
@click.option(
    "--to", "url", required=True, help="The empty PostgreSQL database: postgresql://user@host:port/db."
)
@click.option(
    "--password", "password_ref", help="Its password as a reference: env:NAME or keyring:service/name."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def copy_command(ctx: click.Context, url: str, password_ref: str | None, as_json: bool) -> None:
    """Copy the SQLite database into an empty PostgreSQL database, ids kept, and check every table."""
    from urllib.parse import urlsplit

    import msgspec

    from outreach.kernel.config import default_config_path
    from outreach.kernel.secrets import SecretRef
    from outreach.kernel.store.copy import copy_store

    if urlsplit(url).password:
        fail(
            "--to holds a password in clear (it would stay in the shell's history): remove it from the "
            "url and pass --password env:NAME (or keyring:service/name) instead."
        )
    try:
        reference = SecretRef(password_ref) if password_ref else None
    except ValueError as exc:
        fail(f"--password: {exc}.")
    settings = state(ctx).settings()
    report = run(copy_store(settings, url, resolve(reference)))
    switch = f'[database] url = "{url}"' + (f' and password = "{reference}"' if reference else "")
    if as_json:
        password = str(reference) if reference else None
        echo_json({**msgspec.to_builtins(report), "config": {"url": url, "password": password}})
        return
    width = max(len(count.table) for count in report.tables)
    for count in report.tables:
        click.echo(f"{count.table:<{width}}  {count.source:>9} -> {count.target}")
    click.echo(f"Copied {report.rows} rows to {url}; every table's count matches the SQLite database.")
    click.echo(
        f"To run on PostgreSQL from now on, set {switch} in {settings.source or default_config_path()}."
    )
