"""Analysis as a job: every enricher over each lead, from ``discovered`` to ``pending_review``.

Each lead is claimed (``discovered -> analyzing``), handed to every registered
enricher in ascending ``order`` (each sees what the earlier ones learned), and then
its records and the fields they set are stored and it moves on to review, or to
``failed``. A few leads are analyzed at once (``[analysis] concurrency``); claims and
results are written a batch at a time (:mod:`.analysis_store`).

When a lead fails. An enricher's *findings* are data, never a failure: no
website, a site that is down, no address on it, an address without a mail server;
the lead goes to review with what was learned. An enricher that *raises* (or runs
past ``[analysis] enricher_timeout``) is recorded on the lead as its record, with
``data = {"error": ...}`` and confidence 0, counted as ``enricher_errors``, and
the next enrichers still run. The lead then goes to ``failed``, with the errors in
``failure_reason``, only when nothing was learned at all (no enricher succeeded)
or when the analysis broke and left the lead without an email address: such a
lead is worth a retry (``outreach leads set-state ID discovered``) rather than a
review. A lead that has an address goes to review with partial data, its errors
shown beside the rest. A lead with neither an email address nor a website fails
too, whatever the enrichers said: there is nothing to write to and nowhere to look.

Resuming. A lead left in ``analyzing`` by a process that died is analyzed again
by the next analysis job (a resumed one or a new one), unless another analysis
job is still running in a living process, since that lead may be its.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import msgspec
import structlog

from ..contracts import Enrichment
from ..errors import NotFound, OutreachError, PluginError
from ..models import EnrichmentRecord, Job, Lead
from ..protocols import Enricher
from ..states import LeadState
from ..store.tables import LeadRow
from . import analysis_store
from .lead_enrichment import ENRICHABLE_FIELDS
from .transitions import utcnow

if TYPE_CHECKING:
    from ..job_runner import JobProgress
    from ..runtime import Runtime

log = structlog.get_logger("outreach.analysis")

JOB_KIND = "analyze"
#: Who the audit log names for what analysis changes.
ACTOR = "system:analysis"

L = LeadState


async def submit_analysis(
    rt: Runtime, lead_ids: Iterable[int] | None = None, *, all: bool = False, actor: str
) -> Job:
    """Queue an analysis of the leads ``lead_ids``, or with ``all`` of every lead waiting for one.

    Raises a sentence when neither or both are given, when an id names no lead, or
    when no enricher is installed.
    """
    ids = sorted(set(lead_ids or ()))
    if all and ids:
        raise OutreachError("Analyze either every waiting lead (--all) or the leads you name, not both.")
    if not all and not ids:
        raise OutreachError("Say which leads to analyze: give their ids, or --all for every discovered lead.")
    if not len(rt.plugins.enrichers):
        raise PluginError(
            "No enricher is installed, so analysis would learn nothing; "
            "check `disabled` in the config and `outreach plugins`."
        )
    if ids:
        found = {row["id"] for row in await LeadRow.select(LeadRow.id).where(LeadRow.id.is_in(ids))}
        missing = [str(i) for i in ids if i not in found]
        if missing:
            raise NotFound(
                f"There is no lead with id {', '.join(missing)}; `outreach leads list` shows them."
            )
    params: dict[str, Any] = {"all": True} if all else {"lead_ids": ids}
    return await rt.jobs.submit(JOB_KIND, params, actor=actor)


async def run_analysis(rt: Runtime, job: Job, progress: JobProgress) -> dict[str, Any]:
    """Job handler: analyze the job's leads a few at a time, counting what each became."""
    return await _Analysis(rt, job, progress).run()


class _Outcome(msgspec.Struct):
    """What the enrichers made of one lead."""

    #: The lead as the enrichers left it (their fields applied).
    lead: Lead
    records: list[EnrichmentRecord]
    fields: dict[str, Any]
    errors: dict[str, str]
    succeeded: int
    #: The lead as it was claimed: what is stored is compared with it.
    claimed: Lead | None = None


#: Leads claimed, and outcomes stored, per transaction: a batch costs about what one lead did.
BATCH = 32
#: An outcome waits at most this long for its batch to fill before it is stored anyway.
FLUSH_SECONDS = 1.0


class _Analysis:
    """One run of one analysis job.

    A claimer takes the leads a batch at a time (:func:`.analysis_store.claim`) and hands
    them to ``[analysis] concurrency`` workers, which run the enrichers; their outcomes are
    stored a batch at a time (:func:`.analysis_store.finish`), by whichever worker fills
    the batch, so reading sites never waits for the database and the database is asked
    once per batch rather than several times per lead.
    """

    def __init__(self, rt: Runtime, job: Job, progress: JobProgress) -> None:
        self.rt, self.job, self.progress = rt, job, progress
        self.enrichers: list[Enricher] = rt.plugins.sorted_enrichers()
        self.timeout = rt.settings.analysis.enricher_timeout
        self._pending: list[_Outcome] = []
        self._oldest = 0.0
        self._store_lock = asyncio.Lock()

    async def run(self) -> dict[str, Any]:
        if not self.enrichers:
            raise PluginError("No enricher is installed, so there is nothing to analyze with.")
        work = await self._work()
        self.progress.set_total(self.progress.done + len(work))
        concurrency = self.rt.settings.analysis.concurrency
        claimed: asyncio.Queue[Lead | None] = asyncio.Queue(maxsize=2 * BATCH)

        async def claimer() -> None:
            try:
                for start in range(0, len(work), BATCH):
                    if self.progress.cancelled:
                        return
                    for lead in await self._claim(
                        [lead_id for lead_id, _state in work[start : start + BATCH]]
                    ):
                        await claimed.put(lead)
            finally:
                for _ in range(concurrency):
                    await claimed.put(None)

        async def worker() -> None:
            while (lead := await claimed.get()) is not None:
                if self.progress.cancelled:
                    continue  # left in analyzing: the next analysis job takes it
                await self._analyze(lead)

        async def workers() -> None:
            try:
                await asyncio.gather(claimer(), *(worker() for _ in range(concurrency)))
            finally:
                done.set()

        async def ticker() -> None:
            # Outcomes that arrive slowly (sites that take long) are stored every so often.
            while not done.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), FLUSH_SECONDS)
                await self._store()

        done = asyncio.Event()
        await asyncio.gather(workers(), ticker())
        await self._store(force=True)
        counters = self.progress.counters
        return {name: counters.get(name, 0) for name in ("analyzed", "failed", "skipped", "enricher_errors")}

    async def _work(self) -> list[tuple[int, str]]:
        """The leads this run analyzes, with their states; the ones named but not analyzable are reported."""
        others = [job_id for job_id in await self.rt.jobs.live(JOB_KIND) if job_id != self.job.id]
        states = [L.DISCOVERED, L.ANALYZED] + ([] if others else [L.ANALYZING])
        if self.job.params.get("all"):
            rows = await (
                LeadRow.select(LeadRow.id, LeadRow.lifecycle_state)
                .where(LeadRow.lifecycle_state.is_in(states))
                .order_by(LeadRow.id)
            )
            return [(row["id"], row["lifecycle_state"]) for row in rows]
        ids = list(self.job.params.get("lead_ids", []))
        rows = await LeadRow.select(LeadRow.id, LeadRow.lifecycle_state).where(LeadRow.id.is_in(ids))
        current = {row["id"]: row["lifecycle_state"] for row in rows}
        # A resumed job already reported (or itself analyzed) the leads it cannot take now.
        resumed = self.progress.done > 0
        work = []
        for lead_id in ids:
            state = current.get(lead_id)
            if state in states:
                work.append((lead_id, state))
            elif not resumed:
                self._skip(lead_id, _why_not(state, bool(others)))
        return work

    def _skip(self, lead_id: int, why: str) -> None:
        self.progress.count("skipped")
        self.progress.report(f"lead {lead_id} was not analyzed: {why}", lead_id=lead_id)

    async def _claim(self, lead_ids: list[int]) -> list[Lead]:
        """The leads of ``lead_ids`` this run may analyze, claimed; the others are skipped with why."""
        taken, others = await analysis_store.claim(self.rt, lead_ids, actor=ACTOR)
        for lead_id, state in others.items():
            # A person or another job moved the lead since the list was made: theirs wins.
            self._skip(lead_id, f"it changed while it was analyzed (it is {state or 'gone'} now)")
            self.progress.advance()
        return taken

    async def _analyze(self, lead: Lead) -> None:
        started = time.monotonic()
        try:
            if lead.lifecycle_state == L.ANALYZED:
                outcome = _Outcome(lead=lead, records=[], fields={}, errors={}, succeeded=1)
            else:
                outcome = await self._enrich(lead)
            outcome.claimed = lead
        except Exception as exc:
            log.exception("lead_analysis_crashed", lead_id=lead.id, job_id=self.job.id)
            await self._fail_after_crash(lead.id, exc)
            self.progress.advance()
            return
        log.debug("lead_enriched", lead_id=lead.id, seconds=round(time.monotonic() - started, 3))
        if not self._pending:
            self._oldest = time.monotonic()
        self._pending.append(outcome)
        await self._store()

    async def _enrich(self, lead: Lead) -> _Outcome:
        """Run every enricher on ``lead`` in order; each sees what the earlier ones learned."""
        outcome = _Outcome(lead=lead, records=[], fields={}, errors={}, succeeded=0)
        for enricher in self.enrichers:
            try:
                async with asyncio.timeout(self.timeout):
                    result = await enricher.enrich(outcome.lead)
                record, fields = self._accept(enricher.name, result)
            except Exception as exc:
                error = _describe(exc, self.timeout)
                outcome.errors[enricher.name] = error
                record, fields = (
                    EnrichmentRecord(
                        enricher=enricher.name, data={"error": error}, confidence=0.0, at=utcnow()
                    ),
                    {},
                )
                self.progress.count("enricher_errors")
                self.progress.report(
                    f"enricher {enricher.name} failed on lead {lead.id}: {error}", lead_id=lead.id
                )
                log.warning(
                    "enricher_failed", enricher=enricher.name, lead_id=lead.id, error=type(exc).__name__
                )
            else:
                outcome.succeeded += 1
            outcome.records.append(record)
            outcome.fields.update(fields)
            outcome.lead = msgspec.structs.replace(
                outcome.lead, enrichment={**outcome.lead.enrichment, enricher.name: record}, **fields
            )
        return outcome

    def _accept(self, name: str, result: Any) -> tuple[EnrichmentRecord, dict[str, Any]]:
        """The record to store for ``result``, and the lead fields of it that are acceptable."""
        if not isinstance(result, Enrichment):
            raise PluginError(f"returned {type(result).__name__}, not an Enrichment")
        try:
            msgspec.json.encode(result.data)
        except (TypeError, msgspec.EncodeError) as exc:
            raise PluginError(f"returned data that cannot be stored ({exc})") from None
        fields = {}
        for field, value in result.lead_fields.items():
            problem = _field_problem(field, value)
            if problem is None:
                fields[field] = value.strip() if isinstance(value, str) else value
            else:
                self.progress.report(f"enricher {name} proposed {problem}; it was ignored")
        record = EnrichmentRecord(
            enricher=name, data=result.data, confidence=result.confidence, source=result.source, at=utcnow()
        )
        return record, fields

    async def _store(self, *, force: bool = False) -> None:
        """Store the waiting outcomes when a batch is full, the oldest waited long enough, or ``force``."""
        due = len(self._pending) >= BATCH or time.monotonic() - self._oldest >= FLUSH_SECONDS
        if not self._pending or not (force or due):
            return
        async with self._store_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            try:
                await self._finish(batch)
            except Exception:
                # One bad lead must not lose the batch: store them one by one, and only the
                # lead that still fails alone is failed.
                log.exception("analysis_batch_failed", job_id=self.job.id, leads=len(batch))
                for outcome in batch:
                    try:
                        await self._finish([outcome])
                    except Exception as exc:
                        log.exception("lead_analysis_crashed", lead_id=outcome.lead.id, job_id=self.job.id)
                        await self._fail_after_crash(outcome.lead.id, exc)
                        self.progress.advance()

    async def _finish(self, batch: list[_Outcome]) -> None:
        """Store a batch of outcomes in one transaction and count what each lead became."""
        items = [
            analysis_store.Finished(
                lead=outcome.claimed or outcome.lead,
                records=outcome.records,
                fields=outcome.fields,
                failure=_failure(outcome),
            )
            for outcome in batch
        ]
        stored, changed = await analysis_store.finish(self.rt, items, actor=ACTOR)
        failures = {item.lead.id: item.failure for item in items}
        for lead_id, state in stored.items():
            reason = failures[lead_id]
            self.progress.count("failed" if reason is not None else "analyzed")
            if reason is not None:
                self.progress.report(f"lead {lead_id} failed: {reason}", lead_id=lead_id)
            log.info("lead_analyzed", lead_id=lead_id, job_id=self.job.id, state=state)
            self.progress.advance()
        for lead_id in changed:
            self._skip(lead_id, "it changed while it was analyzed (someone else changed it meanwhile)")
            self.progress.advance()

    async def _fail_after_crash(self, lead_id: int, exc: Exception) -> None:
        reason = f"analysis stopped with an unexpected error ({type(exc).__name__}); the log has the details."
        try:
            await self.rt.leads.transition(lead_id, L.FAILED, actor=ACTOR, changes={"failure_reason": reason})
        except OutreachError:
            self._skip(lead_id, reason)
            return
        self.progress.count("failed")
        self.progress.report(f"lead {lead_id} failed: {reason}", lead_id=lead_id)


#: Why a lead with nothing to write to and nowhere to look fails its analysis.
NOTHING_TO_CONTACT = (
    "it has neither an email address nor a website to find one on, so it cannot be written to; "
    "import it again with an email column to keep it (failed leads are deleted after the retention period)"
)


def _failure(outcome: _Outcome) -> str | None:
    """Why the lead fails, or None when it goes to review (see the module's docstring)."""
    if not outcome.lead.email and not outcome.lead.website_url:
        return NOTHING_TO_CONTACT
    if not outcome.errors:
        return None
    errors = "; ".join(f"{name}: {error}" for name, error in outcome.errors.items())
    if outcome.succeeded == 0:
        return f"every enricher failed ({errors})"
    if not outcome.lead.email:
        return f"no email address was found and an enricher failed ({errors})"
    return None


def _field_problem(field: str, value: Any) -> str | None:
    """What is wrong with an enricher's proposed lead field, or None."""
    if field not in ENRICHABLE_FIELDS:
        return f"'{field}', which enrichment may not set (only {', '.join(ENRICHABLE_FIELDS)})"
    if field == "score":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            return "a score outside 0..1"
        return None
    if value is not None and not isinstance(value, str):
        return f"a {field} that is not text"
    if field == "email" and value is not None and "@" not in value:
        return "an email address without '@'"
    return None


def _describe(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"took longer than {timeout:g} s"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _why_not(state: str | None, others_running: bool) -> str:
    if state is None:
        return "there is no such lead"
    if state == L.ANALYZING and others_running:
        return "another analysis job is working on it"
    if state == L.FAILED:
        return "it failed before; `outreach leads set-state ID discovered` retries it"
    return f"it is {state.replace('_', ' ')}, and only discovered leads are analyzed"
