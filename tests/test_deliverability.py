"""The domain doctor and the sending gate, against a DNS server and SMTP servers on loopback.

Every lookup goes to ``tests/local_dns.py`` through ``[plugins.deliverability] nameserver``
and ``port``; the domains are made up and never leave this machine.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from engine_helpers import OPEN_POLICY, SEQUENCE, Clock, enrolled, with_legal
from litestar.testing import AsyncTestClient
from local_dns import DnsServer
from mail_servers import Sink, SinkHandler, make_certificate, server_context

from outreach.kernel import PluginContext
from outreach.kernel.store.tables import AuditRow
from outreach.plugins.deliverability.doctor import Doctor, Target
from outreach.plugins.deliverability.options import DeliverabilityOptions
from outreach.web.app import create_app

KEY_ENV = "OUTREACH_TEST_DELIVERABILITY_KEY"


@pytest.fixture
def make_settings(make_settings):
    return with_legal(make_settings)


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


def key_record(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"


@pytest.fixture
def key_env(key, monkeypatch) -> str:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    monkeypatch.setenv(KEY_ENV, pem.decode())
    return f"env:{KEY_ENV}"


@pytest.fixture
async def dns():
    server = await DnsServer({}).start()
    yield server
    server.close()


@pytest.fixture
async def plain_sink():
    sink = await Sink(SinkHandler()).start()
    yield sink
    await sink.stop()


@pytest.fixture
async def tls_sink(tmp_path):
    cert, key = make_certificate(tmp_path)
    sink = await Sink(SinkHandler(), tls_context=server_context(cert, key)).start()
    sink.cert = cert  # type: ignore[attr-defined]
    yield sink
    await sink.stop()


def box(name: str, address: str, **extra):
    return {"name": name, "from_address": address, **OPEN_POLICY, **extra}


def plugin_table(dns, **extra):
    return {"deliverability": {"nameserver": "127.0.0.1", "port": dns.port, "timeout": 2, **extra}}


def doctor_for(settings) -> Doctor:
    context = PluginContext(settings)
    return Doctor(context, context.plugin_options("deliverability", DeliverabilityOptions))


def by_check(report) -> dict[str, object]:
    return {finding.check: finding for finding in report.findings}


# -- the doctor ---------------------------------------------------------------------------


async def test_a_well_configured_domain_passes_every_check(
    make_settings, dns, tls_sink, key, key_env
) -> None:
    dns.zones.update(
        {
            "acme-mail.net": {
                "TXT": [
                    "google-site-verification=abc",
                    "v=spf1 ip4:127.0.0.1 include:_spf.provider.net -all",
                ],
                "MX": [(10, "mx.acme-mail.net")],
            },
            "_spf.provider.net": {"TXT": ["v=spf1 ip4:198.51.100.0/24 ~all"]},
            "s1._domainkey.acme-mail.net": {"TXT": [key_record(key)]},
            "_dmarc.acme-mail.net": {"TXT": ["v=DMARC1; p=quarantine; adkim=s; aspf=r"]},
        }
    )
    smtp = {
        "host": "127.0.0.1",
        "port": tls_sink.port,
        "cert_bundle": str(tls_sink.cert),
        "dkim_selector": "s1",
        "dkim_private_key": key_env,
    }
    settings = make_settings(
        sender={"backend": "smtp", "smtp": smtp},
        mailboxes=[box("main", "Ann <ann@acme-mail.net>")],
        plugins=plugin_table(dns),
    )
    [report] = await doctor_for(settings).examine_all()
    assert report.domain == "acme-mail.net"
    found = by_check(report)
    assert set(found) == {
        "spf_record",
        "spf_sender",
        "dkim_record",
        "dkim_key",
        "dmarc_record",
        "dmarc_alignment",
        "mx",
        "tls",
    }
    assert {check: f.status for check, f in found.items()} == dict.fromkeys(found, "ok")
    assert "1 of 10 DNS lookups" in found["spf_record"].summary  # the include; ip4 terms cost none
    assert "127.0.0.1" in found["spf_sender"].summary
    assert "p=quarantine" in found["dmarc_record"].summary
    assert "adkim=s" in found["dmarc_alignment"].summary
    assert "mx.acme-mail.net" in found["mx"].summary
    assert "STARTTLS" in found["tls"].summary


async def test_what_is_wrong_is_said_with_a_fix(make_settings, dns, plain_sink, key_env) -> None:
    dns.zones.update(
        {
            "broken-mail.net": {"TXT": ["some-verification=1"], "A": ["192.0.2.1"]},
            "s1._domainkey.broken-mail.net": {"TXT": [key_record(new_key())]},  # not the key we sign with
            "_dmarc.broken-mail.net": {"TXT": ["v=DMARC1; p=none"]},
        }
    )
    settings = make_settings(
        sender={
            "backend": "smtp",
            "smtp": {
                "host": "127.0.0.1",
                "port": plain_sink.port,
                "dkim_selector": "s1",
                "dkim_private_key": key_env,
            },
        },
        mailboxes=[box("main", "ann@broken-mail.net")],
        plugins=plugin_table(dns),
    )
    [report] = await doctor_for(settings).examine_all()
    found = by_check(report)
    statuses = {check: f.status for check, f in found.items()}
    assert statuses == {
        "spf_record": "fail",
        "dkim_record": "ok",
        "dkim_key": "fail",
        "dmarc_record": "warn",
        "dmarc_alignment": "fail",
        "mx": "fail",
        "tls": "fail",
    }
    assert "no SPF record" in found["spf_record"].summary
    assert "v=spf1" in found["spf_record"].fix
    assert (
        "does not belong to the key published at s1._domainkey.broken-mail.net" in found["dkim_key"].summary
    )
    assert "p=quarantine" in found["dmarc_record"].fix
    assert "does not offer STARTTLS" in found["tls"].summary
    assert all(f.fix for f in report.findings if f.status != "ok")
    assert report.status("spf") == report.status("dkim") == "fail"


async def test_spf_lookup_limit_syntax_and_which_servers_it_lets_send(make_settings, dns) -> None:
    dns.zones.update(
        {
            "many.net": {"TXT": ["v=spf1 " + " ".join(f"include:i{i}.many.net" for i in range(4)) + " -all"]},
            **{f"i{i}.many.net": {"TXT": ["v=spf1 a:h.many.net mx:h.many.net -all"]} for i in range(4)},
            "h.many.net": {"A": ["192.0.2.3"], "MX": [(1, "h.many.net")]},
            "syntax.net": {"TXT": ["v=spf1 ip4:999.1.1.1 -all"]},
            "elsewhere.net": {"TXT": ["v=spf1 ip4:192.0.2.0/24 -all"]},
            "smtp.elsewhere.net": {"A": ["203.0.113.7"]},
            "mxauth.net": {"TXT": ["v=spf1 mx -all"], "MX": [(5, "mx.mxauth.net")]},
            "mx.mxauth.net": {"A": ["127.0.0.1"]},
        }
    )
    settings = make_settings(
        sender={"backend": "smtp", "smtp": {"host": "127.0.0.1"}},
        mailboxes=[
            box("many", "a@many.net"),
            box("syntax", "a@syntax.net"),
            box("elsewhere", "a@elsewhere.net", settings={"host": "smtp.elsewhere.net"}),
            box("mxauth", "a@mxauth.net"),
        ],
        plugins=plugin_table(dns),
    )
    doctor = doctor_for(settings)

    async def examine(name: str, address: str):
        return by_check(
            await doctor.examine(Target(mailbox=name, from_address=address, backend="smtp"), full=False)
        )

    many = await examine("many", "a@many.net")
    assert many["spf_lookups"].status == "fail"
    assert "needs 12 DNS lookups" in many["spf_lookups"].summary  # 4 includes, each with a and mx
    syntax = await examine("syntax", "a@syntax.net")
    assert syntax["spf_record"].status == "fail"
    assert "999.1.1.1" in syntax["spf_record"].summary
    elsewhere = await examine("elsewhere", "a@elsewhere.net")
    assert elsewhere["spf_record"].status == "ok"
    assert elsewhere["spf_sender"].status == "fail"
    assert "smtp.elsewhere.net (203.0.113.7)" in elsewhere["spf_sender"].summary
    assert "ip4:203.0.113.7" in elsewhere["spf_sender"].fix
    mxauth = await examine("mxauth", "a@mxauth.net")
    assert mxauth["spf_sender"].status == "ok"  # the mx term, resolved to the host's address
    assert mxauth["dkim_signing"].status == "fail"  # no dkim_selector: outreach does not sign


async def test_for_gmail_the_doctor_wants_google_in_spf_and_google_s_dkim_key(
    make_settings, dns, key
) -> None:
    dns.zones.update(
        {
            "gm-ok.net": {"TXT": ["v=spf1 include:_spf.google.com ~all"]},
            "_spf.google.com": {"TXT": ["v=spf1 include:_netblocks.google.com ~all"]},
            "_netblocks.google.com": {"TXT": ["v=spf1 ip4:35.190.247.0/24 ~all"]},
            "google._domainkey.gm-ok.net": {"TXT": [key_record(key)]},
            "gm-bad.net": {"TXT": ["v=spf1 ip4:192.0.2.1 -all"]},
        }
    )
    settings = make_settings(sender={"backend": "gmail"}, plugins=plugin_table(dns))
    doctor = doctor_for(settings)
    good = by_check(await doctor.examine(Target(mailbox="a", from_address="a@gm-ok.net", backend="gmail")))
    assert good["spf_sender"].status == good["dkim_record"].status == good["tls"].status == "ok"
    bad = by_check(await doctor.examine(Target(mailbox="b", from_address="b@gm-bad.net", backend="gmail")))
    assert bad["spf_sender"].status == "fail"
    assert "include:_spf.google.com" in bad["spf_sender"].fix
    assert bad["dkim_record"].status == "fail"
    assert "google._domainkey.gm-bad.net" in bad["dkim_record"].summary


async def test_dns_that_does_not_answer_is_a_warning_not_a_failure(make_settings) -> None:
    dns = await DnsServer({}, silent=frozenset({"slow.net"})).start()
    try:
        settings = make_settings(sender={"backend": "smtp"}, plugins=plugin_table(dns, timeout=0.5))
        report = await doctor_for(settings).examine(
            Target(mailbox="m", from_address="a@slow.net", backend="smtp"), full=False
        )
    finally:
        dns.close()
    assert report.status("spf") == "warn"
    assert "could not be looked up" in by_check(report)["spf_record"].summary


async def test_reserved_and_local_domains_are_not_looked_up(make_settings, dns) -> None:
    settings = make_settings(plugins=plugin_table(dns))  # no [[mailboxes]]: the default mailbox
    [default] = await doctor_for(settings).examine_all()
    assert default.mailbox == "default"
    assert default.status() == "fail"
    doc = await doctor_for(settings).examine(
        Target(mailbox="m", from_address="a@shop.example", backend="smtp")
    )
    assert doc.status() == "warn"
    assert "reserved" in doc.findings[0].summary
    assert dns.queries == []


# -- the gate -------------------------------------------------------------------------------


def gated_settings(make_settings, dns, sink, allow_unauthenticated: bool = False, **options):
    return make_settings(
        sender={"backend": "smtp", "smtp": {"host": "127.0.0.1", "port": sink.port, "timeout": 5}},
        mailboxes=[box("main", "Ann Example <ann@acme-mail.net>")],
        sending={"rate_limit_per_minute": 0},
        plugins=plugin_table(dns, **options),
        deliverability={"allow_unauthenticated": allow_unauthenticated},
    )


async def test_no_sequence_starts_from_a_domain_failing_both_spf_and_dkim(
    make_settings, make_runtime, dns, plain_sink
) -> None:
    dns.zones["acme-mail.net"] = {"MX": [(10, "mx.acme-mail.net")]}  # no SPF; outreach does not sign
    rt = await make_runtime(gated_settings(make_settings, dns, plain_sink))
    rt.clock = Clock()
    firsts = await enrolled(rt, 2)
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 0
    assert plain_sink.handler.received == []
    for email_id in firsts.values():
        email = await rt.emails.get(email_id)
        assert email.state == "queued"
        assert "fail both SPF and DKIM" in email.last_error
        assert "allow_unauthenticated" in email.last_error
    # Asked once for both emails: the answer is kept.
    assert dns.queries.count(("acme-mail.net", "TXT")) == 1


async def test_the_override_lets_mail_go_and_is_audited_once_per_domain(
    make_settings, make_runtime, dns, plain_sink
) -> None:
    dns.zones["acme-mail.net"] = {}
    rt = await make_runtime(gated_settings(make_settings, dns, plain_sink, allow_unauthenticated=True))
    rt.clock = Clock()
    await enrolled(rt, 2)
    stats = await rt.outbox.run_until_idle()
    assert stats.sent == 2
    rows = await AuditRow.select().where(AuditRow.action == "deliverability_override")
    assert len(rows) == 1
    assert rows[0]["actor"] == "plugin:deliverability"
    new = rows[0]["new_value"]
    new = json.loads(new) if isinstance(new, str) else new
    assert new["domain"] == "acme-mail.net"
    assert "allow_unauthenticated" in new["setting"]
    assert rows[0]["entity"] == "email"


async def test_one_passing_check_is_enough_and_follow_ups_are_not_held(
    make_settings, make_runtime, dns, plain_sink
) -> None:
    dns.zones["acme-mail.net"] = {"TXT": ["v=spf1 ip4:127.0.0.1 -all"]}  # SPF passes, DKIM does not
    rt = await make_runtime(gated_settings(make_settings, dns, plain_sink, cache_ttl=0))
    clock = Clock()
    rt.clock = clock
    await enrolled(rt, 1, sequence=SEQUENCE)
    assert (await rt.outbox.run_until_idle()).sent == 1
    dns.zones["acme-mail.net"] = {}  # SPF gone: a new sequence would wait, one started goes on
    clock.advance(days=4)
    assert (await rt.outbox.run_until_idle()).sent == 1
    assert len(plain_sink.handler.received) == 2


# -- the command and the page ------------------------------------------------------------------


async def test_outreach_doctor_prints_the_findings(tmp_path, dns) -> None:
    dns.zones["acme-mail.net"] = {"TXT": ["v=spf1 -all"], "MX": [(10, "mx.acme-mail.net")]}
    config = tmp_path / "outreach.toml"
    config.write_text(
        f"""
[[mailboxes]]
name = "main"
from_address = "Ann <ann@acme-mail.net>"

[plugins.deliverability]
nameserver = "127.0.0.1"
port = {dns.port}
timeout = 2
""",
        encoding="utf-8",
    )

    async def run(*args: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "outreach.web.cli",
            "--config",
            str(config),
            "--data-dir",
            str(tmp_path / "data"),
            "doctor",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        return process.returncode, out.decode(), err.decode()

    code, out, err = await run("--json")
    assert code == 1, err  # the DMARC record is missing: a failure
    [report] = json.loads(out)
    checks = {f["check"]: f for f in report["findings"]}
    assert report["domain"] == "acme-mail.net"
    assert checks["spf_record"]["status"] == "ok"
    assert checks["dmarc_record"]["status"] == "fail"
    assert checks["mx"]["status"] == "ok"
    code, out, _ = await run()
    assert "fail DMARC acme-mail.net publishes no DMARC record." in " ".join(out.split())
    assert "fix: Publish a TXT record at _dmarc.acme-mail.net" in out


@pytest.fixture
def threaded_dns():
    """A DNS server on a loop of its own: the test client blocks the test's loop while the app answers."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = asyncio.run_coroutine_threadsafe(DnsServer({}).start(), loop).result(10)
    yield server
    loop.call_soon_threadsafe(server.close)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


async def test_the_deliverability_page_shows_the_findings_escaped(
    make_settings, make_runtime, threaded_dns
) -> None:
    threaded_dns.zones["acme-mail.net"] = {"TXT": ["v=spf1 ip4:<b>x</b> -all"]}
    settings = make_settings(
        mailboxes=[box("main", "Ann <ann@acme-mail.net>")], plugins=plugin_table(threaded_dns)
    )
    rt = await make_runtime(settings)
    async with AsyncTestClient(app=create_app(rt)) as client:
        page = await client.get("/deliverability")
    assert page.status_code == 200
    assert "<h1>Deliverability</h1>" in page.text
    assert "acme-mail.net" in page.text
    assert "The SPF record of acme-mail.net is not valid" in page.text
    assert "<b>x</b>" not in page.text
    assert "&lt;b&gt;x&lt;/b&gt;" in page.text
    assert 'class="state state-failed"' in page.text
