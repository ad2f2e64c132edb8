"""The templates pages: the list, and an editor whose preview follows the text as it is typed."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from outreach.kernel.errors import TemplateError
from outreach.kernel.models import Template
from outreach.kernel.services.leads import LeadQuery
from outreach.kernel.templating import VARIABLES, TemplateSource, check_template
from outreach.web.rendering import render

from . import WEB_ACTOR, form, optional_int, runtime


async def _editor(request: Request[Any, Any, Any], template: Template | None, **extra: Any) -> dict[str, Any]:
    leads = (
        await runtime(request).leads.list(LeadQuery(per_page=200, sort="updated_at", descending=True))
    ).items
    return {
        "template": template,
        "leads": leads,
        "variables": sorted(VARIABLES),
        "problems": None,
        "rendered": None,
        "values": extra.pop("values", None)
        or {
            "name": template.name if template else "",
            "subject": template.subject if template else "",
            "body_text": template.body_text if template else "",
            "body_html": (template.body_html or "") if template else "",
        },
        **extra,
    }


@get("/templates", name="templates", include_in_schema=False)
async def templates_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Every saved template."""
    return render(request, "templates/index.html", {"templates": await runtime(request).templates.list()})


@get("/templates/new", name="template_new", include_in_schema=False)
async def template_new(request: Request[Any, Any, Any]) -> Response[str]:
    """An empty editor."""
    return render(request, "templates/editor.html", await _editor(request, None))


@get("/templates/{template_id:int}", name="template_edit", include_in_schema=False)
async def template_edit(request: Request[Any, Any, Any], template_id: FromPath[int]) -> Response[str]:
    """The editor for one template."""
    template = await runtime(request).templates.get(template_id)
    return render(request, "templates/editor.html", await _editor(request, template))


@post("/templates/save", name="template_save", include_in_schema=False)
async def template_save(request: Request[Any, Any, Any]) -> Response[Any]:
    """Save the editor's template; with problems, show them in the editor and save nothing."""
    data = await form(request)
    template_id = optional_int(data.get("template_id"))
    try:
        saved = await runtime(request).templates.save(
            data.get("name", ""),
            data.get("subject", ""),
            data.get("body_text", ""),
            data.get("body_html") or None,
            actor=WEB_ACTOR,
            template_id=template_id,
        )
    except TemplateError as exc:
        template = await runtime(request).templates.get(template_id) if template_id else None
        values = {key: data.get(key, "") for key in ("name", "subject", "body_text", "body_html")}
        context = await _editor(request, template, values=values, problems=exc.problems)
        return render(request, "templates/editor.html", context, status_code=422)
    return Redirect(f"/templates/{saved.id}?saved=1", status_code=303)


@post("/templates/preview", name="template_preview", include_in_schema=False)
async def template_preview(request: Request[Any, Any, Any]) -> Response[str]:
    """The editor's text rendered for the chosen lead, or what keeps it from rendering."""
    data = await form(request)
    source = TemplateSource(
        subject=data.get("subject", ""), text=data.get("body_text", ""), html=data.get("body_html") or None
    )
    # Problems for any lead are shown beside the preview for this lead, which may still render.
    problems = check_template(source)
    rendered = None
    warnings: list[str] = []
    lead_id = optional_int(data.get("lead_id"))
    if lead_id is not None:
        try:
            rendered = await runtime(request).templates.preview(source, lead_id)
        except TemplateError as exc:
            if not problems:
                problems = [str(exc)]
        else:
            warnings = runtime(request).templates.warnings(rendered)
    return render(
        request,
        "templates/editor.html",
        {"problems": problems, "rendered": rendered, "warnings": warnings},
        block="preview",
        fragment=True,
    )
