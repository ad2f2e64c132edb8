"""The sequences page: each sequence with its steps and enrollments, loading one, enrolling ready leads."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from outreach.kernel.errors import OutreachError, SequenceError, TemplateError
from outreach.kernel.models import Sequence, SequenceStep, StepVariant
from outreach.kernel.services import variants
from outreach.kernel.services.leads import LeadQuery
from outreach.kernel.services.sequence_stats import MIN_SENT, sequence_figures
from outreach.kernel.services.sequences import reply_subject, step_source
from outreach.kernel.states import LeadState
from outreach.web.rendering import is_fragment_request, render

from . import WEB_ACTOR, form, optional_int, runtime, sending_problems

EXAMPLE = """name = "intro"

[[steps]]
subject = "A question for {{ business_name }}"
body = \"\"\"Hi {{ first_name | default("there") }},

{{ first_line }}

{{ sender_name }}\"\"\"
delay_days = 0

[[steps]]
body = "Just following up on my note about {{ business_name }}."
delay_days = 3
business_days = true
"""


async def _page(request: Request[Any, Any, Any], **extra: Any) -> dict[str, Any]:
    rt = runtime(request)
    sequences = await rt.sequences.list()
    counts = {s.id: await rt.enrollment.counts(s.id) for s in sequences}
    lead_counts = await rt.leads.count_by_state()
    defaults = {"message": None, "problems": None, "toml": None, "result": None}
    return {
        "sequences": sequences,
        "counts": counts,
        "ready": lead_counts[LeadState.READY_FOR_OUTREACH],
        "approved": lead_counts[LeadState.APPROVED],
        "example": EXAMPLE,
        "missing": sending_problems(rt),
        **defaults,
        **extra,
    }


@get("/sequences", name="sequences", include_in_schema=False)
async def sequences_index(request: Request[Any, Any, Any]) -> Response[str]:
    """Every sequence, the form to load one, and how many leads are ready."""
    return render(request, "sequences/index.html", await _page(request))


@post("/sequences/load", name="sequences_load", include_in_schema=False)
async def sequences_load(request: Request[Any, Any, Any]) -> Response[str]:
    """Load (or replace) a sequence from the TOML in the form; problems are shown beside the form."""
    data = await form(request)
    text = data.get("toml", "")
    try:
        sequence, created = await runtime(request).sequences.load_text(
            text, actor=WEB_ACTOR, source="the form"
        )
    except TemplateError as exc:
        context = await _page(request, problems=exc.problems, toml=text)
        return render(request, "sequences/index.html", context, status_code=422)
    verb = "Loaded" if created else "Replaced"
    message = f"{verb} sequence '{sequence.name}' with {len(sequence.steps)} step(s)."
    return render(request, "sequences/index.html", await _page(request, message=message))


@post("/sequences/{sequence_id:int}/enroll", name="sequences_enroll", include_in_schema=False)
async def sequences_enroll(request: Request[Any, Any, Any], sequence_id: FromPath[int]) -> Response[str]:
    """Enroll every ready lead and say how it went (in the flash area)."""
    rt = runtime(request)
    result = await rt.enrollment.enroll(sequence_id, None, actor=WEB_ACTOR)
    context = {"result": result, "missing": sending_problems(rt)}
    return render(request, "sequences/index.html", context, block="enrolled", fragment=True)


async def _preview(
    request: Request[Any, Any, Any],
    sequence: Sequence,
    step: SequenceStep,
    variant: StepVariant | None,
    lead_id: int,
) -> dict[str, Any]:
    """One step (as one variant) rendered for one lead; a later step's subject is the thread's."""
    rt = runtime(request)
    entry: dict[str, Any] = {"step": step, "variant": variant, "error": None}
    try:
        rendered = await rt.templates.preview(step_source(step, variant), lead_id)
        subject = rendered.subject
        if step.position > 1:
            first_step = sequence.steps[0]
            same = next((v for v in first_step.variants if variant and v.name == variant.name), None)
            first = same or (first_step.variants[0] if first_step.variants else None)
            subject = reply_subject(
                (await rt.templates.preview(step_source(first_step, first), lead_id)).subject
            )
    except TemplateError as exc:
        entry["error"] = str(exc)
        return entry
    entry.update(subject=subject, text=rendered.text, html=rendered.html)
    return entry


async def _figures_context(sequence: Sequence, **extra: Any) -> dict[str, Any]:
    figures = await sequence_figures(sequence)
    return {"sequence": sequence, "figures": figures, "min_sent": MIN_SENT, "error": None, **extra}


@get("/sequences/{sequence_id:int}", name="sequence_detail", include_in_schema=False)
async def sequence_detail(request: Request[Any, Any, Any], sequence_id: FromPath[int]) -> Response[str]:
    """One sequence's steps (each variant), rendered for a chosen lead, and its figures."""
    rt = runtime(request)
    sequence = await rt.sequences.get(sequence_id)
    leads = (await rt.leads.list(LeadQuery(per_page=200, sort="updated_at", descending=True))).items
    lead_id = optional_int(request.query_params.get("lead")) or (leads[0].id if leads else None)
    previews: list[Any] = []
    if lead_id is not None:
        for step in sequence.steps:
            for variant in step.variants or [None]:
                previews.append(await _preview(request, sequence, step, variant, lead_id))
    context = await _figures_context(sequence, leads=leads, lead_id=lead_id, previews=previews)
    return render(request, "sequences/detail.html", context, block="previews")


@post("/sequences/{sequence_id:int}/variants/{action:str}", name="sequence_variant", include_in_schema=False)
async def sequence_variant(
    request: Request[Any, Any, Any], sequence_id: FromPath[int], action: FromPath[str]
) -> Response[Any]:
    """Stop or resume one variant of a step; answer with the figures block (a form post: the page)."""
    rt = runtime(request)
    data = await form(request)
    sequence = await rt.sequences.get(sequence_id)
    error = None
    if action not in ("stop", "resume"):
        error = f"'{action}' is not something a variant can do: stop or resume it."
    else:
        step = optional_int(data.get("step"))
        try:
            await variants.set_stopped(
                sequence, step or 0, data.get("variant", ""), action == "stop", actor=WEB_ACTOR
            )
        except OutreachError as exc:
            error = str(exc)
        sequence = await rt.sequences.get(sequence_id)
    if not is_fragment_request(request):
        if error:
            raise SequenceError(error)
        return Redirect(f"/sequences/{sequence_id}", status_code=303)
    # 200 with the reason in the block: htmx swaps only successful answers into place.
    context = await _figures_context(sequence, error=error)
    return render(request, "sequences/detail.html", context, block="figures", fragment=True)
