"""Request ids: each request its own, on its error page, in X-Request-ID and in its log lines."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from litestar import get
from litestar.testing import AsyncTestClient

from outreach.kernel import hookimpl
from outreach.kernel.logs import configure_logging
from outreach.web import create_app

TOKEN = "s3cret-token-for-request-ids"


@pytest.fixture
def log_file(tmp_path: Path):
    path = configure_logging(tmp_path / "logs-home", level="info", console_level="critical")
    yield path
    for handler in list(logging.getLogger().handlers):
        if getattr(handler, "_outreach", False):
            logging.getLogger().removeHandler(handler)
            handler.close()


def _events(path: Path, event: str) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return [line for line in lines if line["event"] == event]


class Crashing:
    @hookimpl
    def register_routes(self, register):
        @get("/crash", include_in_schema=False)
        async def crash() -> str:
            raise RuntimeError("a bug")

        register(crash)


async def test_each_error_gets_its_own_id_shown_and_in_the_header(runtime) -> None:
    async with AsyncTestClient(app=create_app(runtime)) as client:
        first, second = await client.get("/no-such-page"), await client.get("/no-such-page")
        api_first, api_second = await client.get("/api/v1/nothing"), await client.get("/api/v1/leads/999999")
        await client.get("/")  # a CSRF cookie, but no token sent below
        forged = await client.post("/leads/bulk", data={"state": "approved"})
    ids = []
    for answer in (first, second):
        assert answer.status_code == 404
        ids.append(answer.headers["x-request-id"])
        assert f"Request {answer.headers['x-request-id']}" in answer.text
    for answer in (api_first, api_second):
        assert answer.status_code == 404
        ids.append(answer.headers["x-request-id"])
        assert answer.json()["request_id"] == answer.headers["x-request-id"]
    assert forged.status_code == 403
    ids.append(forged.headers["x-request-id"])
    assert f"Request {forged.headers['x-request-id']}" in forged.text
    assert all(ids), ids
    assert len(set(ids)) == len(ids), ids


async def test_a_refused_host_logs_the_id_it_answered_with(runtime, log_file: Path) -> None:
    async with AsyncTestClient(app=create_app(runtime)) as client:
        answers = [await client.get("/api/v1/leads", headers={"Host": "evil.example"}) for _ in range(2)]
    lines = _events(log_file, "request_refused")
    assert [line["request_id"] for line in lines] == [a.headers["x-request-id"] for a in answers]
    assert lines[0]["reason"] == "unknown_host"
    assert answers[0].json()["request_id"] == answers[0].headers["x-request-id"]


async def test_a_refused_action_logs_the_id_it_answered_with(runtime, log_file: Path) -> None:
    async with AsyncTestClient(app=create_app(runtime)) as client:
        answer = await client.get("/api/v1/leads/999999")
    assert answer.status_code == 404
    (line,) = _events(log_file, "request_refused")
    assert line["request_id"] == answer.headers["x-request-id"] == answer.json()["request_id"]


async def test_a_bug_logs_the_id_the_page_shows(settings, make_runtime, log_file: Path) -> None:
    rt = await make_runtime(settings, extra_plugins=[("crashing", Crashing())])
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/crash")
    assert page.status_code == 500
    request_id = page.headers["x-request-id"]
    assert request_id in page.text
    (line,) = _events(log_file, "request_failed")
    assert line["request_id"] == request_id
    assert "RuntimeError: a bug" in line["exception"]


async def test_a_request_without_the_access_token_logs_its_id(
    make_settings, make_runtime, monkeypatch, log_file: Path
) -> None:
    monkeypatch.setenv("OUTREACH_RID_TEST_TOKEN", TOKEN)
    rt = await make_runtime(make_settings(web={"access_token": "env:OUTREACH_RID_TEST_TOKEN"}))
    async with AsyncTestClient(app=create_app(rt)) as client:
        answer = await client.get("/api/v1/leads")
    assert answer.status_code == 401
    (line,) = _events(log_file, "access_refused")
    assert line["request_id"] == answer.headers["x-request-id"]


async def test_log_lines_outside_a_request_carry_no_stale_id(runtime, log_file: Path) -> None:
    async with AsyncTestClient(app=create_app(runtime)) as client:
        await client.get("/api/v1/leads", headers={"Host": "evil.example"})
    logging.getLogger("outreach.test").warning("after_the_request")
    (line,) = _events(log_file, "after_the_request")
    assert "request_id" not in line
