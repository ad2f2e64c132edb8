"""Security of the web app: CSRF on every unsafe route, the access token, escaping, the bind refusal."""

from __future__ import annotations

import re
import socket
import subprocess
import sys

import pytest
from litestar import get
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from outreach.kernel import DiscoveredBusiness, hookimpl
from outreach.kernel.errors import ConfigError
from outreach.web import create_app
from outreach.web.cli.serve import _bind
from outreach.web.security import SESSION_COOKIE, check_bind, is_loopback, is_recipient_path, safe_next

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
TOKEN = "s3cret-token-for-tests"


def _concrete(path: str) -> str:
    """A route path with every parameter filled in (``{lead_id:int}`` -> ``1``)."""
    return re.sub(
        r"\{[^}:]+:int\}", "1", re.sub(r"\{[^}:]+:str\}", "approve", re.sub(r"\{[^}:]+:path\}", "x", path))
    )


def _token(html: str) -> str:
    match = re.search(r'"x-csrftoken": "([^"]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


@pytest.fixture
def env_token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OUTREACH_TEST_TOKEN", TOKEN)
    return TOKEN


@pytest.fixture
async def guarded(make_settings, make_runtime, env_token):
    """An app that requires the access token."""
    rt = await make_runtime(make_settings(web={"access_token": "env:OUTREACH_TEST_TOKEN"}))
    return rt, create_app(rt)


async def test_every_unsafe_route_refuses_a_request_without_a_csrf_token(runtime) -> None:
    lead, _ = await runtime.leads.upsert_discovered(DiscoveredBusiness(business_name="Guarded"), "test")
    app = create_app(runtime)
    walked, exempt = [], []
    async with AsyncTestClient(app=app) as client:
        await client.get("/")  # a CSRF cookie is set, but no token is sent with the requests below
        for route in app.routes:
            if not isinstance(route, HTTPRoute):
                continue
            for method in sorted(set(route.methods) & UNSAFE):
                path = _concrete(route.path)
                answer = await client.request(method, path, headers={"HX-Request": "true"}, data={"x": "1"})
                assert "Traceback" not in answer.text
                if is_recipient_path(route.path):
                    # Links in emails carry a signed token instead of CSRF; a forged one changes nothing.
                    assert answer.status_code == 404, f"{method} {path} answered {answer.status_code}"
                    exempt.append(f"{method} {route.path}")
                    continue
                assert answer.status_code == 403, f"{method} {path} answered {answer.status_code}"
                walked.append(f"{method} {route.path}")
    # Only one-click unsubscribing is exempt from CSRF.
    assert exempt == ["POST /u/{token:str}"]
    # The walk met the routes that matter (a new unsafe route is covered without listing it here).
    for expected in (
        "POST /leads/{lead_id:int}/{action:str}",
        "POST /leads/bulk",
        "POST /leads/import",
        "POST /api/v1/leads/bulk",
        "DELETE /api/v1/suppressions/{suppression_id:int}",
        "POST /jobs/{job_id:int}/cancel",
        "POST /login",
    ):
        assert expected in walked
    assert (await runtime.leads.get(lead.id)).lifecycle_state == "discovered"


async def test_the_csrf_token_from_the_page_is_accepted(runtime) -> None:
    async with AsyncTestClient(app=create_app(runtime)) as client:
        token = _token((await client.get("/leads")).text)
        added = await client.post(
            "/api/v1/suppressions", json={"email": "a@b.example"}, headers={"x-csrftoken": token}
        )
        assert added.status_code == 201
        forged = await client.post(
            "/api/v1/suppressions", json={"email": "c@d.example"}, headers={"x-csrftoken": "f" * 128}
        )
        assert forged.status_code == 403
        assert "x-csrftoken header" in forged.json()["error"]


async def test_with_an_access_token_every_request_needs_it(guarded) -> None:
    _rt, app = guarded
    async with AsyncTestClient(app=app) as client:
        page = await client.get("/leads?state=approved", follow_redirects=False)
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=%2Fleads%3Fstate%3Dapproved"
        api = await client.get("/api/v1/leads")
        assert api.status_code == 401
        assert "Bearer" in api.json()["error"]
        assert api.headers["www-authenticate"].startswith("Bearer")
        htmx = await client.get("/leads", headers={"HX-Request": "true"})
        assert htmx.status_code == 401
        assert htmx.headers["hx-redirect"].startswith("/login")
        wrong = await client.get("/api/v1/leads", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/static/style.css")).status_code == 200
        assert (await client.get("/login")).status_code == 200


async def test_the_bearer_token_lets_scripts_in_without_csrf(guarded) -> None:
    rt, app = guarded
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name="Scripted"), "test")
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    async with AsyncTestClient(app=app) as client:
        listed = await client.get("/api/v1/leads", headers=bearer)
        assert listed.json()["total"] == 1
        moved = await client.post(
            f"/api/v1/leads/{lead.id}/transition", json={"state": "analyzing"}, headers=bearer
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["lifecycle_state"] == "analyzing"


async def test_login_sets_an_httponly_cookie_and_the_cookie_still_needs_csrf(guarded) -> None:
    rt, app = guarded
    lead, _ = await rt.leads.upsert_discovered(DiscoveredBusiness(business_name="Cookie"), "test")
    async with AsyncTestClient(app=app) as client:
        form = await client.get("/login?next=/leads")
        token = _token(form.text)
        refused = await client.post("/login", data={"token": "wrong", "next": "/leads", "_csrf_token": token})
        assert refused.status_code == 401
        assert "not the access token" in refused.text
        login = await client.post(
            "/login", data={"token": TOKEN, "next": "/leads", "_csrf_token": token}, follow_redirects=False
        )
        assert login.status_code == 303
        assert login.headers["location"] == "/leads"
        cookie = login.headers["set-cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie
        assert "samesite=strict" in cookie.lower()
        assert TOKEN not in cookie
        page = await client.get("/leads")
        assert page.status_code == 200
        assert "Cookie" in page.text
        # A signed-in browser is exactly what a forged cross-site form rides on: CSRF still applies.
        forged = await client.post(f"/leads/{lead.id}/approve", headers={"HX-Request": "true"})
        assert forged.status_code == 403
        logout = await client.post("/logout", data={"_csrf_token": _token(page.text)}, follow_redirects=False)
        assert logout.status_code == 303
        assert (await client.get("/leads", follow_redirects=False)).status_code == 303


def test_login_redirects_only_to_local_paths() -> None:
    assert safe_next("/leads?state=approved") == "/leads?state=approved"
    for hostile in ("https://evil.example/", "//evil.example", "/\\evil.example", "", None, "javascript:x"):
        assert safe_next(hostile) == "/"


def test_binding_beyond_loopback_needs_an_access_token(make_settings) -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert is_loopback(host)
        check_bind(host, make_settings())
    for host in ("0.0.0.0", "192.168.1.5", "::", "example.com"):
        assert not is_loopback(host)
        with pytest.raises(ConfigError, match="access_token"):
            check_bind(host, make_settings())
    check_bind("0.0.0.0", make_settings(web={"access_token": "env:SOME_TOKEN"}))


def test_the_listening_socket_is_tcp_so_responses_are_not_delayed() -> None:
    # asyncio sets TCP_NODELAY on accepted connections only when the listening socket
    # says IPPROTO_TCP; without it every response waited ~40 ms for a delayed ACK.
    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_serve_refuses_a_public_address_without_a_token(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "outreach.web.cli",
            "--data-dir",
            str(tmp_path),
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "Refusing to listen on 0.0.0.0" in result.stderr
    assert "Traceback" not in result.stderr


async def test_a_missing_token_secret_stops_the_app_from_starting(
    make_settings, make_runtime, monkeypatch
) -> None:
    monkeypatch.delenv("OUTREACH_ABSENT_TOKEN", raising=False)
    rt = await make_runtime(make_settings(web={"access_token": "env:OUTREACH_ABSENT_TOKEN"}))
    with pytest.raises(ConfigError, match="OUTREACH_ABSENT_TOKEN"):
        create_app(rt)


class Crashing:
    """A plugin whose page has a bug."""

    @hookimpl
    def register_routes(self, register):
        @get("/crash", include_in_schema=False)
        async def crash() -> str:
            raise RuntimeError("secret internals /home/ann/outreach.db")

        register(crash)


async def test_a_bug_shows_a_friendly_page_without_a_traceback(settings, make_runtime) -> None:
    rt = await make_runtime(settings, extra_plugins=[("crashing", Crashing())])
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/crash")
        assert page.status_code == 500
        assert "Something went wrong" in page.text
        assert "Traceback" not in page.text
        assert "secret internals" not in page.text
        fragment = await client.get("/crash", headers={"HX-Request": "true"})
        assert fragment.headers["hx-retarget"] == "#flash"


async def test_web_derived_text_is_escaped_everywhere(runtime) -> None:
    name = "<script>alert(1)</script>"
    lead, _ = await runtime.leads.upsert_discovered(
        DiscoveredBusiness(
            business_name=name,
            category="<img src=x onerror=alert(2)>",
            website_url="javascript:alert(3)",
            maps_url="javascript:alert(4)",
            metadata={"note": "<b>bold</b>"},
        ),
        "test",
    )
    async with AsyncTestClient(app=create_app(runtime)) as client:
        for path in ("/leads", f"/leads/{lead.id}", "/"):
            html = (await client.get(path)).text
            assert "<script>alert(1)" not in html
            assert "<img src=x" not in html
            assert "<b>bold</b>" not in html
            assert 'href="javascript:' not in html
        detail = (await client.get(f"/leads/{lead.id}")).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail
