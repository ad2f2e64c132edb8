"""``outreach serve`` (the browser app and the background work) and ``outreach worker``."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
import webbrowser
from collections.abc import Iterator
from typing import Any

import click
import structlog

from outreach.kernel.errors import ConfigError
from outreach.kernel.logs import configure_logging
from outreach.kernel.runtime import Runtime

from .common import fail, run, state, stop_on_signals

log = structlog.get_logger("outreach.serve")


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket ourselves, so a busy port is a sentence, not a traceback."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"Cannot listen on {host}:{port} ({exc.strerror}); another program may be using it. "
            "Choose another port with --port."
        ) from None
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _server_class():  # type: ignore[no-untyped-def]
    """uvicorn's Server, its signal handling left to us (imported late: ``worker`` needs none)."""
    import uvicorn

    class Server(uvicorn.Server):
        """Stops when told, and lets the command exit 0 after a clean shutdown.

        uvicorn re-raises the signal it caught once it shut down, so a Ctrl+C or a
        closed terminal would end the process "killed by signal" although nothing was
        lost; outreach's own handlers (:func:`stop_on_signals`) ask it to stop instead.
        """

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return Server


async def _exit_when(stop: asyncio.Event, server: Any) -> None:
    await stop.wait()
    server.should_exit = True


def can_open_browser() -> bool:
    """Whether a graphical browser can be opened: on Linux only with a display.

    Without one, :mod:`webbrowser` would start a text browser in the terminal the
    server's address was printed to; the address alone is better there.
    """
    if sys.platform.startswith(("linux", "freebsd", "openbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def run_check(check, *args) -> None:  # type: ignore[no-untyped-def]
    """Run a start-up check; its refusal is a sentence and exit code 1."""
    try:
        check(*args)
    except ConfigError as exc:
        fail(str(exc))


@click.command("serve")
@click.option("--host", help="Address to listen on (default 127.0.0.1, or [web] host).")
@click.option("--port", type=int, help="Port to listen on (default 8000, or [web] port; 0 picks a free one).")
@click.option("--open", "open_browser", is_flag=True, help="Open the app in the default browser.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, open_browser: bool) -> None:
    """Run the web app (with the job runner) until interrupted.

    It listens on 127.0.0.1 unless told otherwise, and refuses any other address
    while ``[web] access_token`` is unset.
    """
    # Here, not at the top: `outreach worker` has no use for the web app or the server.
    import uvicorn

    from outreach.web.app import create_app
    from outreach.web.security import check_bind

    settings = state(ctx).settings()
    host = host or settings.web.host
    port = port if port is not None else settings.web.port
    run_check(check_bind, host, settings)
    log_file = configure_logging(settings.data_path, level=settings.log_level, console_level="info")

    async def main() -> None:
        sock = _bind(host, port)
        rt = await Runtime.open(settings)
        rt.listening = f"{host}:{sock.getsockname()[1]}"
        app = create_app(rt, run_background=True)
        server = _server_class()(uvicorn.Config(app, log_config=None, access_log=False, lifespan="on"))
        url = f"http://{'localhost' if host in ('127.0.0.1', '::1') else host}:{sock.getsockname()[1]}/"
        log.info("server_started", url=url, data_dir=str(settings.data_path), log_file=str(log_file))
        click.echo(f"outreach is running at {url} (Ctrl+C to stop)", err=True)
        if open_browser and can_open_browser():
            asyncio.get_running_loop().call_later(0.5, webbrowser.open, url)
        stop = asyncio.Event()
        stop_on_signals(stop)
        watcher = asyncio.create_task(_exit_when(stop, server))
        try:
            await server.serve(sockets=[sock])
        finally:
            watcher.cancel()
        log.info("server_stopped", url=url)

    run(main())


@click.command("worker")
@click.pass_context
def worker(ctx: click.Context) -> None:
    """Run background work (jobs, the outbox, inbound mail) without the web app, until SIGTERM or Ctrl+C."""
    settings = state(ctx).settings()
    configure_logging(settings.data_path, level=settings.log_level, console_level="info")

    async def main() -> None:
        rt = await Runtime.open(settings)
        stop = asyncio.Event()
        stop_on_signals(stop)
        await rt.start_background()
        log.info("worker_started", data_dir=str(settings.data_path))
        await stop.wait()
        await rt.close()
        log.info("worker_stopped")

    run(main())
