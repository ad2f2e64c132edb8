"""``outreach discover``: find businesses with a discovery source, with a progress bar."""

from __future__ import annotations

import click

from outreach.kernel.contracts import DiscoveryQuery
from outreach.kernel.errors import OutreachError
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.discovery import check_fallback, submit_discovery

from .common import CLI_ACTOR, echo_json, fail, with_runtime
from .progress import run_job_with_bar


@click.command("discover")
@click.argument("query")
@click.option("--near", help="Where: a town ('Austin, TX') or 'lat,lng'.")
@click.option("--max", "max_results", type=int, help="Stop after this many businesses.")
@click.option("--source", default="google_maps", show_default=True, help="The discovery source to use.")
@click.option(
    "--fallback",
    default="",
    metavar="SOURCES",
    help="Comma-separated sources to try next if the source fails (e.g. google_places,openstreetmap).",
)
@click.option(
    "--lang",
    "language",
    default=None,
    help="Language of the results' labels (default: [plugins.google_maps] language, else en).",
)
@click.option(
    "--tag",
    "tags",
    multiple=True,
    metavar="KEY=VALUE",
    callback=lambda _ctx, _param, values: _tags(values),
    help="An OpenStreetMap tag to search for (repeatable; a place with any of them matches), "
    "e.g. --tag shop=bicycle; for --source openstreetmap.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the job's outcome as JSON.")
@with_runtime
async def discover(
    rt: Runtime,
    query: str,
    near: str | None,
    max_results: int | None,
    source: str,
    fallback: str,
    language: str | None,
    tags: list[str],
    as_json: bool,
) -> None:
    """Find businesses matching QUERY (for example "dentists") and store them as leads."""
    search = DiscoveryQuery(
        query=query,
        location=(near or "").strip() or None,
        max_results=max_results,
        language=language,
        options={"tags": tags} if tags else {},
    )
    fallbacks = _fallback_names(rt, source, fallback)
    job = await submit_discovery(rt, source, search, actor=CLI_ACTOR, fallback=fallbacks)
    where = f" near {search.location}" if search.location else ""
    job = await run_job_with_bar(rt, job, f"Searching {source} for {query!r}{where}")
    if as_json:
        echo_json(job)
    else:
        counters = job.counters
        click.echo(
            f"Found {counters.get('found', 0)} place(s): {counters.get('created', 0)} new lead(s), "
            f"{counters.get('updated', 0)} updated, {counters.get('unchanged', 0)} unchanged; "
            f"{counters.get('details', 0)} detail page(s) read, {counters.get('misses', 0)} miss(es)."
        )
        for problem in job.report[:20]:
            click.echo(f"  {problem['message']}", err=True)
    if job.state != "succeeded":
        fail(job.error or f"The search ended {job.state}.")


def _fallback_names(rt: Runtime, source: str, text: str) -> list[str]:
    """The ``--fallback`` list, checked against the installed sources (a usage error if wrong)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    try:
        return check_fallback(rt, source, names)
    except OutreachError as exc:
        raise click.BadParameter(str(exc), param_hint="'--fallback'") from None


def _tags(values: tuple[str, ...]) -> list[str]:
    """The ``--tag`` values as ``key=value`` (a usage error for one that is not)."""
    tags = []
    for value in values:
        key, sep, tag_value = value.strip().partition("=")
        if not sep or not key.strip() or not tag_value.strip():
            raise click.BadParameter(
                f"'{value}' is not KEY=VALUE; write for example --tag shop=bakery (or KEY=* for any value).",
                param_hint="'--tag'",
            )
        tags.append(f"{key.strip()}={tag_value.strip()}")
    return tags
