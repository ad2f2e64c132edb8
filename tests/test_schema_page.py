"""The API schema page (/schema) works offline: everything it loads comes from this outreach."""

from __future__ import annotations

import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

from litestar.testing import AsyncTestClient

from outreach.web import create_app

REDOC = Path(__file__).resolve().parents[1] / "web" / "static" / "redoc"


class _Resources(HTMLParser):
    """Every URL a page's tags make the browser fetch (src, href, and the CSP it sets)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.policy: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for attribute in ("src", "href", "srcset", "data"):
            if values.get(attribute):
                self.urls.append((tag, values[attribute] or ""))
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "content-security-policy":
            self.policy = values.get("content")


def _external(url: str) -> bool:
    return bool(re.match(r"^\s*(https?:)?//", url, re.IGNORECASE))


async def test_the_schema_page_loads_nothing_from_another_host(runtime) -> None:
    async with AsyncTestClient(app=create_app(runtime)) as client:
        page = await client.get("/schema")
        assert page.status_code == 200
        found = _Resources()
        found.feed(page.text)
        assert found.urls, "the page loads nothing at all"
        assert [url for _, url in found.urls if _external(url)] == []
        # Redoc adds its own logo from its CDN at run time; the page's policy blocks it.
        assert found.policy, "the page sets no Content-Security-Policy"
        assert "default-src 'self'" in found.policy
        assert "img-src 'self' data:" in found.policy
        assert "http" not in found.policy
        assert "fonts.googleapis.com" not in page.text

        scripts = [url for tag, url in found.urls if tag == "script"]
        assert scripts == ["/static/redoc/redoc.standalone.js"]
        script = await client.get(scripts[0])
        assert script.status_code == 200
        assert "javascript" in script.headers["content-type"]
        assert "Redoc" in script.text[:100_000]


def test_the_vendored_viewer_is_the_one_its_notes_describe() -> None:
    notes = (REDOC / "VENDORED.md").read_text()
    digest = hashlib.sha256((REDOC / "redoc.standalone.js").read_bytes()).hexdigest()
    assert f"`{digest}`" in notes
    assert "MIT License" in (REDOC / "LICENSE").read_text()
