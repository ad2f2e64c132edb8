"""DNS rebinding: the app answers only to its own names, on every route, token or not."""

from __future__ import annotations

import re

import pytest
from litestar.testing import AsyncTestClient

from outreach.web import create_app
from outreach.web.security import host_name

TOKEN = "s3cret-token-for-host-tests"

#: One path per route family; a bogus token on /t/ and /u/ is answered 404 once through.
PATHS = [
    "/",
    "/leads",
    "/settings",
    "/api/v1/leads",
    "/schema",
    "/schema/openapi.json",
    "/static/style.css",
    "/static/redoc/redoc.standalone.js",
    "/t/o/not-a-token",
    "/t/c/not-a-token",
    "/u/not-a-token",
    "/healthz",
    "/no-such-page",
]

#: Names this app must answer to: loopback in every spelling, ``[web] host`` (192.168.7.7),
#: the bound address of ``serve --host`` (10.1.2.3), the host of ``public_url``
#: and ``[web] allowed_hosts``.
ALLOWED = [
    "localhost",
    "localhost:8000",
    "LocalHost:1",
    "127.0.0.1",
    "127.0.0.1:8000",
    "[::1]",
    "[::1]:8000",
    "[0:0:0:0:0:0:0:1]:8000",
    "192.168.7.7:8000",
    "10.1.2.3:8123",
    "outreach.example.com",
    "Outreach.Example.COM:443",
    "nas.lan:8000",
    "192.168.1.20",
]

#: Names of someone else (the first is what a rebinding page sends).
REFUSED = [
    "evil.example",
    "evil.example:8000",
    "localhost.evil.example",
    "127.0.0.1.nip.io",
    "outreach.example.com.evil.example",
    "[::2]:8000",
    "",
]


def _configured(make_settings, **web):
    return make_settings(
        web={
            "host": "192.168.7.7",
            "public_url": "https://outreach.example.com",
            "allowed_hosts": ["NAS.lan", "192.168.1.20:8000"],
            **web,
        }
    )


@pytest.fixture
async def app(make_settings, make_runtime):
    rt = await make_runtime(_configured(make_settings))
    rt.listening = "10.1.2.3:8123"  # what `outreach serve --host 10.1.2.3 --port 8123` records
    return create_app(rt)


async def test_every_route_family_answers_its_own_names(app) -> None:
    async with AsyncTestClient(app=app) as client:
        for path in PATHS:
            expected = (await client.get(path, headers={"Host": "127.0.0.1:8000"})).status_code
            assert expected != 400, path
            for host in ALLOWED:
                answer = await client.get(path, headers={"Host": host})
                assert answer.status_code == expected, f"{host} {path} answered {answer.status_code}"


async def test_every_route_family_refuses_other_names(app) -> None:
    async with AsyncTestClient(app=app) as client:
        for path in PATHS:
            for host in REFUSED:
                answer = await client.get(path, headers={"Host": host})
                assert answer.status_code == 400, f"{host!r} {path} answered {answer.status_code}"
                assert "Traceback" not in answer.text
        # Unsafe methods too (refused before CSRF or the unsubscribe handler look at them).
        for method, path in (
            ("POST", "/leads/bulk"),
            ("POST", "/u/not-a-token"),
            ("DELETE", "/api/v1/suppressions/1"),
        ):
            answer = await client.request(method, path, headers={"Host": "evil.example"})
            assert answer.status_code == 400, f"{method} {path} answered {answer.status_code}"


async def test_the_refusal_is_a_sentence_json_for_the_api(app) -> None:
    async with AsyncTestClient(app=app) as client:
        api = await client.get("/api/v1/leads", headers={"Host": "evil.example"})
        body = api.json()
        assert api.headers["content-type"].startswith("application/json")
        assert set(body) == {"error", "status", "request_id"}
        assert body["status"] == 400
        assert body["request_id"] == api.headers["x-request-id"]
        assert "evil.example" in body["error"]
        assert "[web] allowed_hosts" in body["error"]

        page = await client.get("/leads", headers={"Host": "evil.example:8000"})
        assert page.headers["content-type"].startswith("text/plain")
        assert "does not answer to the name 'evil.example'" in page.text
        assert page.headers["x-request-id"] in page.text
        # Nothing of the app goes to the distrusted name: no CSRF cookie, no token in the body.
        assert "set-cookie" not in page.headers
        assert not re.search(r"csrf", page.text, re.IGNORECASE)


async def test_the_check_holds_with_an_access_token(make_settings, make_runtime, monkeypatch) -> None:
    monkeypatch.setenv("OUTREACH_HOST_TEST_TOKEN", TOKEN)
    rt = await make_runtime(_configured(make_settings, access_token="env:OUTREACH_HOST_TEST_TOKEN"))
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with AsyncTestClient(app=create_app(rt)) as client:
        assert (
            await client.get("/api/v1/leads", headers={**bearer, "Host": "localhost:8000"})
        ).status_code == 200
        for path in ("/api/v1/leads", "/leads", "/login", "/healthz", "/t/o/not-a-token"):
            answer = await client.get(path, headers={**bearer, "Host": "evil.example"})
            assert answer.status_code == 400, f"{path} answered {answer.status_code}"


async def test_a_bound_ipv6_address_is_accepted_in_brackets(settings, make_runtime) -> None:
    rt = await make_runtime(settings)
    rt.listening = "fd00::5:8123"  # `serve --host fd00::5` records the host as given, then the port
    async with AsyncTestClient(app=create_app(rt)) as client:
        assert (await client.get("/healthz", headers={"Host": "[fd00::5]:8123"})).status_code == 200
        assert (await client.get("/healthz", headers={"Host": "[fd00::6]:8123"})).status_code == 400


async def test_without_configuration_only_loopback_is_accepted(settings, make_runtime) -> None:
    rt = await make_runtime(settings)
    async with AsyncTestClient(app=create_app(rt)) as client:
        for host in ("localhost:8000", "127.0.0.1:8000", "[::1]:8000"):
            assert (await client.get("/api/v1/leads", headers={"Host": host})).status_code == 200, host
        for host in ("evil.example", "outreach.example.com", "192.168.7.7:8000"):
            assert (await client.get("/api/v1/leads", headers={"Host": host})).status_code == 400, host


async def test_names_saved_in_the_settings_apply_at_once(settings, make_settings, make_runtime) -> None:
    rt = await make_runtime(settings)
    async with AsyncTestClient(app=create_app(rt)) as client:
        assert (await client.get("/healthz", headers={"Host": "nas.lan"})).status_code == 400
        rt.settings = make_settings(web={"allowed_hosts": ["nas.lan"]})
        assert (await client.get("/healthz", headers={"Host": "nas.lan"})).status_code == 200


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("Example.COM:8000", "example.com"),
        ("example.com.", "example.com"),
        ("[::1]:8000", "::1"),
        ("[0:0::1]", "::1"),
        ("::1", "::1"),
        ("127.0.0.1:80", "127.0.0.1"),
        ("[::1", ""),
        ("", ""),
    ],
)
def test_host_names_compare_without_port_case_or_brackets(given: str, name: str) -> None:
    assert host_name(given) == name
