"""The default sender writes .eml files, sends nothing, and can find what it wrote."""

from __future__ import annotations

import email
from email import policy

from outreach.kernel import OutgoingMessage


def _message(**extra) -> OutgoingMessage:
    values = {
        "email_id": 7,
        "message_id": "<abc.123@outreach.local>",
        "from_address": "Ann Example <ann@example.com>",
        "to_address": "info@acme.example",
        "subject": "Hello Acme",
        "text": "Hi there,\nplain text.",
    }
    values.update(extra)
    return OutgoingMessage(**values)


async def test_outbox_writes_a_parseable_eml_named_by_message_id(runtime, data_dir) -> None:
    sender = runtime.plugins.senders.get("outbox")
    message = _message(
        html="<p>Hi <b>there</b></p>",
        in_reply_to="<first@outreach.local>",
        references=["<first@outreach.local>"],
        headers={
            "List-Unsubscribe": "<https://x.example/u/1>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    receipt = await sender.send(message)
    files = list((data_dir / "outbox").glob("*.eml"))
    assert len(files) == 1
    assert receipt.provider_message_id == str(files[0])
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert parsed["Message-ID"] == "<abc.123@outreach.local>"
    assert parsed["To"] == "info@acme.example"
    assert parsed["In-Reply-To"] == "<first@outreach.local>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed.get_content_type() == "multipart/alternative"
    assert parsed.get_body(("plain",)).get_content().startswith("Hi there")
    assert "<b>there</b>" in parsed.get_body(("html",)).get_content()
    assert (await sender.lookup("<abc.123@outreach.local>")).message_id == "<abc.123@outreach.local>"
    assert await sender.lookup("<never@outreach.local>") is None


async def test_outbox_directory_is_configurable(make_settings, make_runtime, tmp_path) -> None:
    rt = await make_runtime(make_settings(sender={"outbox": {"directory": str(tmp_path / "drafts")}}))
    await rt.plugins.senders.get("outbox").send(_message())
    assert len(list((tmp_path / "drafts").glob("*.eml"))) == 1


async def test_config_selects_a_third_party_sender(make_settings, make_runtime, tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    settings = make_settings(sender={"backend": "example", "example": {"journal": str(journal)}})
    rt = await make_runtime(settings)
    sender = rt.plugins.senders.get(rt.settings.sender.backend)
    assert rt.plugins.senders.owner(sender.name) == "example"
    await sender.send(_message())
    assert "abc.123@outreach.local" in journal.read_text()
