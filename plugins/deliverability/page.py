"""``GET /deliverability``: the doctor's report as a page.

A plugin renders its own template (in this folder) with its own autoescaping Jinja
environment, as a third-party plugin would: it does not reach into the web app's. The
plugin imports this module only when the web app is built (the command line does without
Litestar).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from litestar import Response, get
from litestar.enums import MediaType

if TYPE_CHECKING:
    from .doctor import Doctor

STATE_CLASS = {"ok": "state-sent", "warn": "state-pending_review", "fail": "state-failed"}


@functools.cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def page_handler(doctor: Doctor) -> Any:
    """The route handler for the page, bound to ``doctor``."""

    @get("/deliverability", include_in_schema=False, name="deliverability")
    async def deliverability() -> Response[str]:
        """Run the doctor for every mailbox and show what it found."""
        reports = await doctor.examine_all()
        html = (
            _environment()
            .get_template("doctor.html")
            .render(reports=reports, nameserver=doctor.lookups.source, state_class=STATE_CLASS)
        )
        return Response(html, media_type=MediaType.HTML, headers={"Cache-Control": "no-store"})

    return deliverability
