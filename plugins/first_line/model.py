"""Asking an ``llm`` model for one answer, within a time limit.

``llm`` is an optional dependency, imported only here and only when a line is written,
so outreach works without it. A model that ``llm`` offers as async is awaited (a
timeout cancels its request); a sync-only model runs on a thread of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from outreach.kernel import ConfigError

T = TypeVar("T")

INSTALL_HINT = "pip install 'outreach[first-line]'"


def llm_installed() -> bool:
    """Whether the ``llm`` library can be imported (without importing it)."""
    return importlib.util.find_spec("llm") is not None


def missing_llm() -> ConfigError:
    """The error for a configured model without the library that runs it."""
    return ConfigError(
        f"[plugins.first_line] model is set, but the llm library is not installed; run {INSTALL_HINT} "
        "(or remove the model to turn the plugin off)."
    )


class UnknownModel(Exception):
    """``llm`` has no model of this id or alias."""


def _find(model_id: str) -> tuple[Any, Any]:
    """The async and the sync model ``model_id`` names (either may be None)."""
    try:
        import llm
    except ImportError:
        raise missing_llm() from None
    for entry in llm.get_models_with_aliases():
        model = entry.model or entry.async_model
        if model_id == model.model_id or model_id in entry.aliases:
            return entry.async_model, entry.model
    raise UnknownModel(
        f"llm has no model '{model_id}'; `llm models` lists the installed ones, and `llm install` adds more"
    )


async def _in_thread(call: Callable[[], T]) -> T:
    """``call()`` on a daemon thread, awaited.

    Not ``asyncio.to_thread``: its executor is joined when the event loop closes, so a
    model that never answers would keep outreach from stopping. A daemon thread is
    abandoned instead once the timeout has given up on it.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def run() -> None:
        try:
            result, error = call(), None
        except BaseException as exc:  # handed to the awaiting task, whatever it is
            result, error = None, exc
        # RuntimeError: the loop closed meanwhile, and nobody waits for this answer.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=run, name="first-line-model", daemon=True).start()
    return await future


async def ask(model_id: str, prompt: str, seconds: float) -> str:
    """The text ``model_id`` answers to ``prompt``; ``TimeoutError`` past ``seconds``.

    :raises UnknownModel: when ``llm`` knows no such model.
    :raises ConfigError: when ``llm`` is not installed.
    """
    async with asyncio.timeout(seconds):
        # Finding models runs every llm plugin's registration, which may ask a local server.
        async_model, sync_model = await _in_thread(lambda: _find(model_id))
        if async_model is not None:
            return str(await async_model.prompt(prompt, stream=False).text())
        return await _in_thread(lambda: str(sync_model.prompt(prompt, stream=False).text()))
