"""The API against its own OpenAPI schema: schemathesis generates requests for every operation.

Each answer must not be a server error and, when it is a success, must match the
schema Litestar publishes at /schema. A few examples per operation keep it fast.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from outreach.kernel import DiscoveredBusiness
from outreach.kernel.config import parse_settings
from outreach.kernel.runtime import Runtime
from outreach.web import create_app

TOKEN = "schema-test-token"


async def _open(data_dir: Path) -> Runtime:
    rt = await Runtime.open(
        parse_settings({"data_dir": str(data_dir), "web": {"access_token": "env:OUTREACH_SCHEMA_TOKEN"}}),
        load_entry_points=False,
    )
    for name in ("Alpha", "Beta"):
        await rt.leads.upsert_discovered(
            DiscoveredBusiness(business_name=name, email=f"x@{name}.example"), "t"
        )
    await rt.suppressions.add("gone@example.com", actor="test")
    await rt.jobs.submit("discover", {"source": "csv"}, actor="test")
    return rt


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    os.environ["OUTREACH_SCHEMA_TOKEN"] = TOKEN
    rt = asyncio.run(_open(tmp_path_factory.mktemp("schema")))
    return schemathesis.openapi.from_asgi(
        "/schema/openapi.json", create_app(rt), headers={"Authorization": f"Bearer {TOKEN}"}
    )


CHECKS = [checks.not_a_server_error, checks.response_schema_conformance, checks.content_type_conformance]


def test_api_answers_every_generated_request_without_a_server_error(api_schema) -> None:  # type: ignore[no-untyped-def]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 13
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

        check()
