"""The IMAP reply source against a real Dovecot on loopback."""

from __future__ import annotations

import asyncio
import imaplib
import time
from pathlib import Path

import pytest
from support.dovecot import ImapServer, running_dovecot

from outreach.kernel import ConfigError

CORPUS = Path(__file__).resolve().parent / "corpus" / "mail"


@pytest.fixture(scope="module")
def imap_server() -> ImapServer:
    with running_dovecot() as server:
        yield server


def _append(server: ImapServer, *messages: bytes, folder: str = "INBOX") -> None:
    client = imaplib.IMAP4(server.host, server.port)
    client.login(server.username, server.password)
    for message in messages:
        client.append(folder, None, None, message)
    client.logout()


def _settings(make_settings, server: ImapServer, monkeypatch, name: str, folder: str = "INBOX"):
    monkeypatch.setenv("TEST_IMAP_PASSWORD", server.password)
    return make_settings(
        plugins={
            "imap": {
                "accounts": [
                    {
                        "name": name,
                        "host": server.host,
                        "port": server.port,
                        "tls": "none",
                        "username": server.username,
                        "password": "env:TEST_IMAP_PASSWORD",
                        "folder": folder,
                        "poll_seconds": 1,
                    }
                ]
            }
        }
    )


async def _drain(source) -> list:
    return [message async for message in source.fetch()]


async def test_new_messages_are_read_once_and_remembered(
    imap_server, make_settings, make_runtime, monkeypatch
) -> None:
    client = imaplib.IMAP4(imap_server.host, imap_server.port)
    client.login(imap_server.username, imap_server.password)
    client.create("Replies")
    client.logout()
    rt = await make_runtime(_settings(make_settings, imap_server, monkeypatch, "main", folder="Replies"))
    source = rt.plugins.reply_sources.get("imap:main")
    first = (CORPUS / "replies" / "talon__gmail.eml").read_bytes()
    bounce = (CORPUS / "bounces" / "sisimai__lhost-postfix-02.eml").read_bytes()
    _append(imap_server, first, bounce, folder="Replies")

    got = await _drain(source)
    assert [m.source for m in got] == ["imap:main", "imap:main"]
    assert b"Megan One" in got[0].raw
    assert b"Undelivered Mail Returned to Sender" in got[1].raw
    assert await _drain(source) == []  # nothing new: nothing handed over twice

    later = (CORPUS / "replies" / "sisimai__rfc3834-02.eml").read_bytes()
    _append(imap_server, later, folder="Replies")
    (only,) = await _drain(source)
    assert b"Automatic reply" in only.raw

    # A fresh runtime on the same database remembers where it stopped.
    again = await make_runtime(rt.settings)
    assert await _drain(again.plugins.reply_sources.get("imap:main")) == []


async def test_reading_does_not_mark_messages_as_seen(
    imap_server, make_settings, make_runtime, monkeypatch
) -> None:
    rt = await make_runtime(_settings(make_settings, imap_server, monkeypatch, "peek"))
    _append(
        imap_server, b"From: a@b.example\r\nSubject: unseen\r\nMessage-ID: <unseen@b.example>\r\n\r\nhi\r\n"
    )
    await _drain(rt.plugins.reply_sources.get("imap:peek"))
    client = imaplib.IMAP4(imap_server.host, imap_server.port)
    client.login(imap_server.username, imap_server.password)
    client.select("INBOX", readonly=True)
    status, data = client.search(None, "UNSEEN", 'HEADER Subject "unseen"')
    client.logout()
    assert status == "OK"
    assert data[0].split()


async def test_a_changed_uidvalidity_reads_the_folder_again(
    imap_server, make_settings, make_runtime, monkeypatch
) -> None:
    rt = await make_runtime(_settings(make_settings, imap_server, monkeypatch, "reset"))
    source = rt.plugins.reply_sources.get("imap:reset")
    everything = await _drain(source)
    await rt.plugins.context.save_state("imap", "reset:INBOX", {"uidvalidity": 1, "last_uid": 10_000})
    assert len(await _drain(source)) == len(everything)


async def test_wrong_password_is_a_sentence(imap_server, make_settings, make_runtime, monkeypatch) -> None:
    rt = await make_runtime(_settings(make_settings, imap_server, monkeypatch, "bad"))
    monkeypatch.setenv("TEST_IMAP_PASSWORD", "wrong")
    with pytest.raises(ConfigError, match="refused the login"):
        await _drain(rt.plugins.reply_sources.get("imap:bad"))


async def test_unreachable_server_is_a_sentence(make_settings, make_runtime, monkeypatch) -> None:
    server = ImapServer("127.0.0.1", 9, "x", "y", Path("."))
    rt = await make_runtime(_settings(make_settings, server, monkeypatch, "down"))
    with pytest.raises(ConfigError, match="Cannot reach the IMAP server"):
        await _drain(rt.plugins.reply_sources.get("imap:down"))


async def test_idle_wakes_up_on_new_mail(imap_server, make_settings, make_runtime, monkeypatch) -> None:
    rt = await make_runtime(_settings(make_settings, imap_server, monkeypatch, "idle"))
    source = rt.plugins.reply_sources.get("imap:idle")
    started = time.monotonic()
    waiter = asyncio.create_task(source.wait(max_wait=20))
    await asyncio.sleep(0.5)
    await asyncio.to_thread(_append, imap_server, b"From: c@d.example\r\nSubject: wake\r\n\r\nup\r\n")
    await asyncio.wait_for(waiter, timeout=20)
    assert time.monotonic() - started < 10
