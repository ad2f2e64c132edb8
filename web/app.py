"""Building the Litestar app around a :class:`~outreach.kernel.runtime.Runtime`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.static_files import create_static_files_router

from outreach.kernel.runtime import Runtime

from .errors import EXCEPTION_HANDLERS
from .middleware import request_id_middleware
from .navigation import NAVIGATION
from .rendering import make_environment
from .routes import analysis, api, dashboard, discover, jobs, leads

STATIC = Path(__file__).parent / "static"

ROUTES: list[Any] = [
    dashboard.dashboard,
    dashboard.health,
    discover.discover_index,
    discover.discover_submit,
    discover.discover_job,
    leads.leads_index,
    leads.lead_action,
    analysis.analyze_leads,
    analysis.analysis_progress,
    analysis.lead_enrichment,
    jobs.jobs_index,
    api.LeadsApi,
    api.JobsApi,
]


def create_app(runtime: Runtime, *, run_background: bool = False) -> Litestar:
    """The web app over ``runtime``; with ``run_background`` it also runs the job runner."""

    async def start(app: Litestar) -> None:
        if run_background:
            await runtime.start_background()

    async def stop(app: Litestar) -> None:
        if run_background:
            await runtime.close()

    return Litestar(
        route_handlers=[
            *ROUTES,
            *runtime.plugins.route_handlers(),
            create_static_files_router(path="/static", directories=[STATIC]),
        ],
        state=State({"runtime": runtime, "jinja": make_environment(), "navigation": NAVIGATION}),
        csrf_config=CSRFConfig(
            secret=runtime.vault.derive("web:csrf").hex(),
            cookie_name="outreach_csrf",
            cookie_samesite="strict",
            header_name="x-csrftoken",
        ),
        middleware=[request_id_middleware],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(title="outreach", version="1", path="/schema"),
        on_startup=[start],
        on_shutdown=[stop],
        # Logging is configured once, by outreach (JSON file plus console).
        logging_config=None,
        debug=False,
    )
