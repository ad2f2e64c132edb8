"""Saved email templates: create, change, delete, and preview for any lead."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..contracts import OutgoingMessage
from ..errors import NotFound, TemplateError
from ..models import RenderedEmail, Template
from ..store.engine import write_transaction
from ..store.mapping import template_from_row
from ..store.tables import TemplateRow
from ..templating import TemplateSource, render_template, validate_template
from . import audit
from .transitions import utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime


class TemplateService:
    """Templates are checked when saved: a template that cannot render is never stored."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def list(self) -> list[Template]:
        """Every template, by name."""
        return [template_from_row(r) for r in await TemplateRow.select().order_by(TemplateRow.name)]

    async def get(self, template_id: int) -> Template:
        """One template; :class:`NotFound` if there is none."""
        row = await TemplateRow.select().where(TemplateRow.id == template_id).first()
        if row is None:
            raise NotFound(f"There is no template with id {template_id}.")
        return template_from_row(row)

    async def by_name(self, name: str) -> Template:
        """The template called ``name``."""
        row = await TemplateRow.select().where(TemplateRow.name == name).first()
        if row is None:
            raise NotFound(f"There is no template named '{name}'.")
        return template_from_row(row)

    async def save(
        self,
        name: str,
        subject: str,
        body_text: str,
        body_html: str | None = None,
        *,
        actor: str,
        template_id: int | None = None,
    ) -> Template:
        """Create a template, or change the one with ``template_id``; refuse one with problems."""
        name = name.strip()
        if not name:
            raise TemplateError("A template needs a name.")
        if not subject.strip():
            raise TemplateError("A template needs a subject.")
        html = body_html if body_html and body_html.strip() else None
        validate_template(TemplateSource(subject=subject, text=body_text, html=html))
        values: dict[Any, Any] = {
            TemplateRow.name: name,
            TemplateRow.subject: subject,
            TemplateRow.body_text: body_text,
            TemplateRow.body_html: html,
            TemplateRow.updated_at: utcnow(),
        }
        async with write_transaction():
            clash = await TemplateRow.select(TemplateRow.id).where(TemplateRow.name == name).first()
            if clash is not None and clash["id"] != template_id:
                raise TemplateError(f"A template named '{name}' exists already; choose another name.")
            if template_id is None:
                rows = await TemplateRow.insert(
                    TemplateRow(name=name, subject=subject, body_text=body_text, body_html=html)
                ).returning(*TemplateRow.all_columns())
                action = "created"
            else:
                rows = (
                    await TemplateRow.update(values)
                    .where(TemplateRow.id == template_id)
                    .returning(*TemplateRow.all_columns())
                )
                if not rows:
                    raise NotFound(f"There is no template with id {template_id}.")
                action = "edited"
            template = template_from_row(rows[0])
            await audit.record("template", template.id, action, actor, new={"name": name})
        return template

    async def delete(self, template_id: int, *, actor: str) -> None:
        """Delete a template; sequence steps made from it keep the copy they were loaded with."""
        async with write_transaction():
            rows = await TemplateRow.delete().where(TemplateRow.id == template_id).returning(TemplateRow.id)
            if not rows:
                raise NotFound(f"There is no template with id {template_id}.")
            await audit.record("template", template_id, "deleted", actor)

    def warnings(self, rendered: RenderedEmail, *, first: bool = True) -> list[str]:
        """What the compliance checks warn about in ``rendered`` (see ``warnings`` on a check)."""
        from .outbox.dry_run import message_warnings

        message = OutgoingMessage(
            email_id=0,
            message_id="<preview@outreach.invalid>",
            from_address="preview@outreach.invalid",
            to_address="lead@outreach.invalid",
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            step_number=1 if first else 2,
        )
        return message_warnings(self._rt.plugins.compliance_checks, message)

    async def preview(
        self, source: TemplateSource, lead_id: int, mailbox: str | None = None
    ) -> RenderedEmail:
        """``source`` rendered for lead ``lead_id`` as ``mailbox`` would send it."""
        lead = await self._rt.leads.get(lead_id)
        sender = self._rt.mailboxes.sender_name(mailbox)
        return render_template(source, lead, sender_name=sender)
