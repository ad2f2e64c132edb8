"""The ``first_line`` enricher: a model writes the opening sentence, and the answer is checked."""

from __future__ import annotations

from typing import Any

import structlog

from outreach.kernel import ConfigError, Enrichment, Lead

from .facts import build_prompt, lead_facts
from .grounding import judge
from .model import UnknownModel, ask
from .options import FirstLineOptions

log = structlog.get_logger("outreach.plugins.first_line")

#: How sure the enricher is of a line that passed the check: it is true, but a model wrote it.
CONFIDENCE = 0.7
#: Of a refused or failed answer, this much is kept to show why it was refused.
_ANSWER_CHARS = 500


class FirstLineEnricher:
    """Asks the configured model for one opening sentence from the facts earlier enrichers found.

    Its record's ``data`` holds ``first_line`` (the sentence, or None), ``model``, and
    ``rejected`` (why the check refused the answer, with the ``answer``) or ``error``
    (the model failed or took too long). It never raises: a missing line is no reason to
    fail a lead, whose templates then use the plain sentence. A record a person wrote
    (its data has ``edited_by``) is kept as it is: analysis does not overwrite a person.
    """

    name = "first_line"
    #: After the website and email enrichers, whose findings are the facts; before the score.
    order = 900

    def __init__(self, options: FirstLineOptions, timeout: float) -> None:
        if options.model is None:
            raise ConfigError("[plugins.first_line] model is not set, so no first line is written.")
        self.options = options
        self.model = options.model
        self.timeout = timeout

    async def enrich(self, lead: Lead) -> Enrichment:
        """The line the model wrote for ``lead`` if it passed the check; else why there is none."""
        current = lead.enrichment.get(self.name)
        if current is not None and current.data.get("edited_by"):
            return Enrichment(data=dict(current.data), confidence=current.confidence, source=current.source)
        facts = lead_facts(lead, skip=self.name)
        prompt = build_prompt(self.options.prompt, facts, self.options.max_words)
        source = f"llm:{self.model}"
        data: dict[str, Any] = {"first_line": None, "model": self.model}
        try:
            answer = await ask(self.model, prompt, self.timeout)
        except TimeoutError:
            error = f"the model took longer than {self.timeout:g} s"
        except (UnknownModel, ConfigError) as exc:
            error = str(exc)
        except Exception as exc:  # a model plugin's own error, whatever its kind
            text = str(exc).strip()
            error = (f"{type(exc).__name__}: {text}" if text else type(exc).__name__)[:300]
        else:
            verdict = judge(answer, list(facts.values()), self.options.max_words)
            if verdict.line is not None:
                log.info("first_line_written", lead_id=lead.id, model=self.model)
                data["first_line"] = verdict.line
                return Enrichment(data=data, confidence=CONFIDENCE, source=source)
            log.info("first_line_refused", lead_id=lead.id, model=self.model, reason=verdict.reason)
            data.update(rejected=verdict.reason, answer=answer.strip()[:_ANSWER_CHARS])
            return Enrichment(data=data, confidence=0.0, source=source)
        log.warning("first_line_failed", lead_id=lead.id, model=self.model, error=error)
        data["error"] = error
        return Enrichment(data=data, confidence=0.0, source=source)
