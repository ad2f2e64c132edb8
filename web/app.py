"""Building the Litestar app around a :class:`~outreach.kernel.runtime.Runtime`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import RedocRenderPlugin
from litestar.static_files import create_static_files_router

from outreach.kernel.runtime import Runtime

from .errors import EXCEPTION_HANDLERS
from .middleware import request_id_middleware
from .navigation import NAVIGATION
from .rendering import make_environment
from .routes import (
    analysis,
    api,
    api_suppressions,
    auth,
    compliance,
    dashboard,
    deals,
    discover,
    first_lines,
    jobs,
    lead_import,
    lead_lists,
    leads,
    mailboxes,
    outbox,
    replies,
    review,
    sequences,
    settings,
    suppressions,
    templates,
    tracking,
)
from .security import AccessGate, access_middleware, csrf_config, csrf_middleware, host_middleware

STATIC = Path(__file__).parent / "static"
#: The vendored Redoc bundle (``static/redoc/VENDORED.md``) that draws the schema page.
REDOC_JS = "/static/redoc/redoc.standalone.js"
#: The schema page may load from this outreach only. Redoc itself adds an image from its
#: CDN (the "API docs by Redocly" logo) that no option turns off; this blocks it, and
#: the page hides the broken image. Redoc needs the inline script that starts it, inline
#: styles and a blob: worker (its search); checked in Chromium with search in use.
SCHEMA_PAGE_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'none'"
)

ROUTES: list[Any] = [
    dashboard.dashboard,
    dashboard.health,
    discover.discover_index,
    discover.discover_submit,
    discover.discover_job,
    leads.leads_index,
    lead_lists.leads_export,
    lead_lists.lead_tags_change,
    first_lines.lead_first_line,
    leads.lead_detail,
    leads.lead_action,
    review.leads_bulk,
    lead_import.leads_import,
    lead_import.leads_import_mapping,
    analysis.analyze_leads,
    analysis.analysis_progress,
    analysis.lead_enrichment,
    jobs.jobs_index,
    jobs.job_detail,
    jobs.job_cancel,
    jobs.job_resume,
    settings.settings_page,
    settings.settings_save,
    auth.login_form,
    auth.login_submit,
    auth.logout,
    sequences.sequences_index,
    sequences.sequences_load,
    sequences.sequences_enroll,
    sequences.sequence_detail,
    sequences.sequence_variant,
    templates.templates_index,
    templates.template_new,
    templates.template_edit,
    templates.template_save,
    templates.template_preview,
    mailboxes.mailboxes_index,
    mailboxes.mailbox_test,
    mailboxes.mailbox_resume,
    outbox.outbox_index,
    outbox.outbox_action,
    outbox.outbox_detail,
    outbox.outbox_move,
    replies.replies_index,
    replies.reply_detail,
    replies.reply_answer,
    replies.reply_stage,
    deals.lead_deal,
    suppressions.suppressions_index,
    suppressions.suppression_add,
    suppressions.suppression_remove,
    compliance.compliance_page,
    compliance.gdpr_export,
    compliance.gdpr_erase,
    compliance.gdpr_lead_export,
    compliance.gdpr_lead_erase,
    tracking.track_open,
    tracking.track_click,
    tracking.unsubscribe_page,
    tracking.unsubscribe,
    api.LeadsApi,
    api.EmailsApi,
    api.JobsApi,
    api_suppressions.SuppressionsApi,
]


class OfflineRedoc(RedocRenderPlugin):
    """Redoc from our own static files, on a page that loads nothing from elsewhere."""

    def __init__(self) -> None:
        # No Google Fonts and no favicon from Litestar's CDN: the page must work offline
        # and must not tell anyone that it was opened.
        super().__init__(
            js_url=REDOC_JS, google_fonts=False, favicon='<link rel="icon" href="data:,">', path="/"
        )

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        """The page Litestar renders, with :data:`SCHEMA_PAGE_POLICY` before anything it loads."""
        policy = f'<meta http-equiv="Content-Security-Policy" content="{SCHEMA_PAGE_POLICY}">'
        return super().render(request, openapi_schema).replace(b"<head>", b"<head>" + policy.encode(), 1)


def create_app(runtime: Runtime, *, run_background: bool = False) -> Litestar:
    """The web app over ``runtime``; with ``run_background`` it also runs the job runner.

    Middleware order matters: the request id first (so refusals carry one), then the
    host check (DNS rebinding), both around the whole app; then, per route, the access
    gate (it marks bearer requests), then CSRF (which exempts those).
    """
    gate = AccessGate.from_settings(runtime.settings, runtime.vault.derive("web:session"))

    async def start(app: Litestar) -> None:
        if run_background:
            await runtime.start_background()

    async def stop(app: Litestar) -> None:
        if run_background:
            await runtime.close()

    app = Litestar(
        route_handlers=[
            *ROUTES,
            *runtime.plugins.route_handlers(),
            create_static_files_router(path="/static", directories=[STATIC]),
        ],
        state=State(
            {"runtime": runtime, "jinja": make_environment(), "navigation": NAVIGATION, "access": gate}
        ),
        middleware=[
            access_middleware(gate),
            csrf_middleware(csrf_config(runtime.vault.derive("web:csrf").hex())),
        ],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        openapi_config=OpenAPIConfig(
            title="outreach", version="1", path="/schema", render_plugins=[OfflineRedoc()]
        ),
        on_startup=[start],
        on_shutdown=[stop],
        # Logging is configured once, by outreach (JSON file plus console).
        logging_config=None,
        debug=False,
    )
    # Litestar's middleware list runs only for a matched route, inside its exception
    # handling: an unknown path (404) or a middleware's own error (the CSRF 403) would
    # escape it. These two must see every request, so they wrap the whole handler.
    app.asgi_handler = request_id_middleware(host_middleware(runtime)(app.asgi_handler))
    return app
