"""Models for the ``llm`` library that answer what a test tells them, as an llm plugin.

Registered through llm's own plugin manager (``llm.plugins.pm``) by a fixture, they are
found by ``llm.get_models_with_aliases()`` exactly as an installed plugin's models are:

- ``outreach-test``: a sync :class:`llm.Model` only (outreach runs it on a thread);
- ``outreach-test-both``: a sync and an async model (outreach awaits the async one).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import llm


class Script:
    """What a model answers, how long it takes, or what it raises; and every prompt it got."""

    def __init__(self) -> None:
        self.answer = ""
        self.delay = 0.0
        self.error: Exception | None = None
        self.prompts: list[str] = []

    def take(self, prompt: llm.Prompt) -> None:
        self.prompts.append(prompt.prompt or "")


class ScriptedModel(llm.Model):
    """A sync model reading its :class:`Script`."""

    can_stream = False

    def __init__(self, model_id: str, script: Script) -> None:
        self.model_id = model_id
        self.script = script

    def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any) -> Any:
        self.script.take(prompt)
        if self.script.delay:
            time.sleep(self.script.delay)
        if self.script.error is not None:
            raise self.script.error
        yield self.script.answer


class ScriptedAsyncModel(llm.AsyncModel):
    """An async model reading its :class:`Script`."""

    can_stream = False

    def __init__(self, model_id: str, script: Script) -> None:
        self.model_id = model_id
        self.script = script

    async def execute(self, prompt: Any, stream: bool, response: Any, conversation: Any) -> Any:
        self.script.take(prompt)
        if self.script.delay:
            await asyncio.sleep(self.script.delay)
        if self.script.error is not None:
            raise self.script.error
        yield self.script.answer


class FakeModels:
    """The llm plugin: ``sync`` scripts ``outreach-test``, ``both`` scripts ``outreach-test-both``."""

    def __init__(self) -> None:
        self.sync = Script()
        self.both = Script()
        self.both_sync = Script()

    @llm.hookimpl
    def register_models(self, register: Any) -> None:
        register(ScriptedModel("outreach-test", self.sync), aliases=["outreach-alias"])
        register(
            ScriptedModel("outreach-test-both", self.both_sync),
            ScriptedAsyncModel("outreach-test-both", self.both),
        )
