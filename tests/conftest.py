"""Shared fixtures: settings and a runtime on a fresh data directory per test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing.transport import TestClientTransport
from pg_cluster import PostgresCluster

from outreach.kernel.config import Settings, parse_settings
from outreach.kernel.runtime import Runtime

# No test may read or write the developer's real keyring or config.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
os.environ.pop("OUTREACH_CONFIG", None)
os.environ.pop("OUTREACH_DATA_KEY", None)


async def _request_in_this_loop(self: TestClientTransport, request: httpx.Request) -> httpx.Response:
    """Serve the request on the test's own event loop, as uvicorn serves the app.

    Litestar's AsyncTestClient runs the app on a portal thread and waits for it
    synchronously, which stops the test's event loop for the whole request. A task on
    that loop holding SQLite's write lock (a plugin's spawned work, a job) then cannot
    finish, and the request waits out the busy timeout: "database is locked". One loop
    for the app and its tasks, as in production, and no second thread.
    """
    transport = httpx.ASGITransport(
        app=self.client.app, root_path=self.root_path, client=("127.0.0.1", 50000)
    )
    return await transport.handle_async_request(request)


TestClientTransport.handle_async_request = _request_in_this_loop  # type: ignore[method-assign]

#: Real captures and messages from public sources; each folder's MANIFEST names their origins.
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory for this test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run the tests of a module marked ``both_engines`` on SQLite and on PostgreSQL.

    A test marked ``sqlite_only`` (it reads SQLite's own files or pragmas) runs once, and
    one marked ``postgres_only`` (PostgreSQL's own locks or views) runs on PostgreSQL only.
    """
    marked = metafunc.definition.get_closest_marker("both_engines")
    only = metafunc.definition.get_closest_marker("sqlite_only")
    if "store_engine" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("postgres_only"):
        metafunc.parametrize("store_engine", ["postgres"], indirect=True)
    elif marked and not only:
        metafunc.parametrize("store_engine", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def store_engine(request: pytest.FixtureRequest) -> str:
    """The engine this test's store runs on: ``sqlite``, or ``postgres`` in a ``both_engines`` module."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def make_settings(
    data_dir: Path, store_engine: str, request: pytest.FixtureRequest
) -> Callable[..., Settings]:
    """Build :class:`Settings` from TOML-shaped keyword arguments, on the test's data dir (and,
    on PostgreSQL, on a fresh database of its own)."""
    # On PostgreSQL each data directory (its own data key) gets a database of its own, as it
    # gets its own SQLite file.
    urls: dict[str, str] = {}
    if store_engine == "postgres":
        urls[str(data_dir)] = request.getfixturevalue("postgres_url")

    def make(**raw: Any) -> Settings:
        raw.setdefault("data_dir", str(data_dir))
        if urls:
            if str(raw["data_dir"]) not in urls:
                urls[str(raw["data_dir"])] = request.getfixturevalue("postgres_server").create_database()
            raw["database"] = {"url": urls[str(raw["data_dir"])], **raw.get("database", {})}
        return parse_settings(raw, source="test settings")

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default settings on the test's data dir."""
    return make_settings()


@pytest.fixture
async def make_runtime() -> AsyncIterator[Callable[..., Any]]:
    """Open runtimes (closed after the test): ``await make_runtime(settings, extra_plugins=...)``."""
    opened: list[Runtime] = []

    async def make(settings: Settings, **kwargs: Any) -> Runtime:
        rt = await Runtime.open(settings, **kwargs)
        opened.append(rt)
        return rt

    yield make
    for rt in opened:
        await rt.close()


@pytest.fixture
async def runtime(settings: Settings, make_runtime: Callable[..., Any]) -> Runtime:
    """A runtime with default settings on a fresh database."""
    return await make_runtime(settings)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresCluster]:
    """A throwaway PostgreSQL server on 127.0.0.1, started for the first test that asks for it."""
    with PostgresCluster.start() as cluster:
        yield cluster


@pytest.fixture
def postgres_url(postgres_server: PostgresCluster) -> Iterator[str]:
    """A fresh, empty database for this test: ``postgresql://outreach@127.0.0.1:PORT/NAME``."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)
