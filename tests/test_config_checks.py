"""The checks that need the plugins: their tables' keys, the senders named, secrets in clear.

Each problem names its key path as written in the file and the choices; every problem in
the file is reported at once, by ``outreach config show`` and by ``Runtime.open``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from outreach.kernel import hookimpl
from outreach.kernel.config import load_settings, parse_settings
from outreach.kernel.config_check import config_problems, is_secret_key
from outreach.kernel.errors import ConfigError
from outreach.kernel.plugins import build_plugin_host
from outreach.kernel.runtime import Runtime
from outreach.web.cli import cli

README = Path(__file__).resolve().parents[1] / "README.md"

#: One file, three problems of three kinds.
THREE_PROBLEMS = """
[sender]
backend = "smtpp"

[sender.smtp]
host = "smtp.example.com"
password = "hunter2"

[plugins.website]
max_pagez = 3
"""


def problems_of(data_dir: Path, extra: tuple[tuple[str, object], ...] = (), **raw: Any) -> list[str]:
    """The problems of a config given as TOML-shaped keyword arguments, built-in plugins only."""
    settings = parse_settings({"data_dir": str(data_dir), **raw}, source="test")
    host = build_plugin_host(settings, load_entry_points=False, extra=extra)
    return [str(problem) for problem in config_problems(settings, host)]


def one(problems: list[str], path: str) -> str:
    """The one problem about ``path``."""
    found = [p for p in problems if p.startswith(f"'{path}':")]
    assert len(found) == 1, problems
    return found[0]


def test_an_unknown_key_in_a_plugin_table_names_it_and_the_keys_it_takes(data_dir) -> None:
    problems = problems_of(data_dir, plugins={"website": {"max_pagez": 3, "timeout": 5}})
    problem = one(problems, "plugins.website.max_pagez")
    assert "unknown key" in problem
    for key in ("max_pages", "timeout", "proxy", "user_agent"):
        assert key in problem.split("takes:")[1]
    assert len(problems) == 1


def test_every_unknown_key_of_a_table_is_reported_not_only_the_first(data_dir) -> None:
    problems = problems_of(data_dir, plugins={"email_check": {"nameservr": "127.0.0.1", "prot": 53}})
    assert "nameserver" in one(problems, "plugins.email_check.nameservr")
    assert "port" in one(problems, "plugins.email_check.prot")


def test_an_unknown_key_in_a_sender_table_and_its_sub_table(data_dir) -> None:
    smtp = {"host": "h", "prot": 25, "sent_folder": {"host": "imap.example.com", "fodler": "Sent"}}
    problems = problems_of(data_dir, sender={"backend": "smtp", "smtp": smtp})
    assert "idle_seconds" in one(problems, "sender.smtp.prot")
    assert "[sender.smtp.sent_folder] takes:" in one(problems, "sender.smtp.sent_folder.fodler")
    assert "folder" in one(problems, "sender.smtp.sent_folder.fodler")


def test_a_mailbox_override_is_checked_against_its_backend(data_dir) -> None:
    mailbox = {
        "name": "main",
        "from_address": "a@example.com",
        "backend": "smtp",
        "settings": {"usrname": "b"},
    }
    problem = one(problems_of(data_dir, mailboxes=[mailbox]), "mailboxes.0.settings.usrname")
    assert "[sender.smtp] takes:" in problem
    assert "username" in problem


def test_a_backend_that_is_not_installed_names_the_installed_senders(data_dir) -> None:
    mailbox = {"name": "main", "from_address": "a@example.com", "backend": "smpt", "failover": ["gmial"]}
    problems = problems_of(data_dir, sender={"backend": "outbx"}, mailboxes=[mailbox])
    for path, name in (
        ("sender.backend", "outbx"),
        ("mailboxes.0.backend", "smpt"),
        ("mailboxes.0.failover.0", "gmial"),
    ):
        problem = one(problems, path)
        assert f"'{name}'" in problem
        assert "installed senders: gmail, outbox, smtp" in problem


def test_a_disabled_sender_is_not_installed_and_says_so(data_dir) -> None:
    problem = one(problems_of(data_dir, disabled=["outbox"]), "sender.backend")
    assert "'disabled'" in problem


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ({"sender": {"smtp": {"host": "h", "password": "hunter2"}}}, "sender.smtp.password"),
        (
            {
                "plugins": {
                    "imap": {"accounts": [{"name": "m", "host": "h", "username": "u", "password": "hunter2"}]}
                }
            },
            "plugins.imap.accounts.0.password",
        ),
        (
            {
                "sender": {"backend": "smtp"},
                "mailboxes": [
                    {"name": "m", "from_address": "a@example.com", "settings": {"password": "hunter2"}}
                ],
            },
            "mailboxes.0.settings.password",
        ),
        ({"plugins": {"website": {"api_key": "abc123"}}}, "plugins.website.api_key"),
    ],
)
def test_a_secret_in_clear_is_refused_wherever_it_is(data_dir, raw, path) -> None:
    problems = problems_of(data_dir, **raw)
    (problem,) = [p for p in problems if p.startswith(f"'{path}':") and "in clear" in p]
    assert "env:" in problem
    assert "hunter2" not in " ".join(problems)


def test_secret_references_and_lookalike_keys_pass(data_dir) -> None:
    assert all(map(is_secret_key, ("client_secret", "refreshToken", "api-key", "password")))
    assert not any(map(is_secret_key, ("token_url", "bypass", "username")))
    gmail = {"client_id": "env:A", "client_secret": "env:B", "refresh_token": "keyring:outreach/gmail"}
    maps = {"proxy": {"server": "http://proxy:8080", "bypass": "localhost"}}
    problems = problems_of(
        data_dir,
        sender={"backend": "gmail", "gmail": {**gmail, "token_url": "http://127.0.0.1:9/token"}},
        plugins={"google_maps": maps},
    )
    assert problems == []


def test_a_table_of_a_plugin_that_is_not_installed_is_refused_unless_disabled(data_dir) -> None:
    problem = one(problems_of(data_dir, plugins={"webiste": {}}), "plugins.webiste")
    assert "no plugin named 'webiste'" in problem
    assert "website" in problem
    assert problems_of(data_dir, plugins={"webiste": {}}, disabled=["webiste"]) == []
    assert "no sender named 'smpt'" in one(problems_of(data_dir, sender={"smpt": {}}), "sender.smpt")


def test_a_sender_in_use_must_have_its_required_keys_but_an_unused_one_may_wait(data_dir) -> None:
    used = problems_of(data_dir, sender={"backend": "gmail", "gmail": {"client_id": "env:A"}})
    assert one(used, "sender.gmail.client_secret").endswith("is required, and not set.")
    assert one(used, "sender.gmail.refresh_token")
    assert problems_of(data_dir, sender={"gmail": {"client_id": "env:A"}}) == []


class TableOptions(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    colour: str = "blue"


class DeclaringPlugin:
    @hookimpl
    def register_config_tables(self, register) -> None:
        register("plugins.painter", TableOptions)


def test_a_third_party_plugin_declares_its_table_and_has_it_checked(data_dir) -> None:
    extra = (("painter", DeclaringPlugin()),)
    problem = one(
        problems_of(data_dir, extra, plugins={"painter": {"color": "red"}}), "plugins.painter.color"
    )
    assert "[plugins.painter] takes: colour." in problem
    assert problems_of(data_dir, extra, plugins={"painter": {"colour": "red"}}) == []


def test_a_plugin_declaring_a_table_that_is_not_its_kind_is_left_out(data_dir) -> None:
    class Wrong:
        @hookimpl
        def register_config_tables(self, register) -> None:
            register("web", TableOptions)

    settings = parse_settings({"data_dir": str(data_dir)}, source="test")
    host = build_plugin_host(settings, load_entry_points=False, extra=[("wrong", Wrong())])
    assert [f.name for f in host.failures] == ["wrong"]
    assert "'plugins.<name>' or 'sender.<name>'" in host.failures[0].error


def test_the_documented_example_has_no_problems(tmp_path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Configuration") :]
    example = section[
        section.index("```toml") + len("```toml") : section.index("```", section.index("```toml") + 7)
    ]
    path = tmp_path / "outreach.toml"
    path.write_text(example)
    settings = load_settings(path, data_dir=tmp_path)
    assert config_problems(settings, build_plugin_host(settings, load_entry_points=False)) == []


def test_config_show_reports_every_problem_and_fails(tmp_path) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text(THREE_PROBLEMS)
    result = CliRunner().invoke(
        cli, ["--config", str(path), "--data-dir", str(tmp_path / "data"), "config", "show"]
    )
    assert result.exit_code == 1
    assert "has 3 problems" in result.stderr
    for path_named in ("'sender.backend'", "'sender.smtp.password'", "'plugins.website.max_pagez'"):
        assert path_named in result.stderr
    assert "hunter2" not in result.output
    assert '"backend": "smtpp"' in result.stdout  # what is in effect is shown all the same


def test_config_show_of_a_sound_file_succeeds(tmp_path) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text('[sender.smtp]\nhost = "smtp.example.com"\npassword = "env:SMTP_PASSWORD"\n')
    result = CliRunner().invoke(
        cli, ["--config", str(path), "--data-dir", str(tmp_path / "data"), "config", "show"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


async def test_runtime_open_refuses_the_same_file(tmp_path) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text(THREE_PROBLEMS)
    settings = load_settings(path, data_dir=tmp_path / "data")
    with pytest.raises(ConfigError) as refused:
        await Runtime.open(settings, load_entry_points=False)
    message = str(refused.value)
    assert "has 3 problems" in message
    assert "\n  1. " in message
    assert "\n  3. " in message
    for path_named in ("'sender.backend'", "'sender.smtp.password'", "'plugins.website.max_pagez'"):
        assert path_named in message


def test_every_problem_in_outreachs_own_tables_is_reported_at_once(tmp_path) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text(
        '[web]\nprot = 8000\n\n[compliance]\nsender_nam = "Ann"\n\n'
        '[[mailboxes]]\nname = "main"\nfrom_address = "a@b.example"\ndaily_cup = 3\n'
    )
    with pytest.raises(ConfigError) as raised:
        load_settings(path)
    message = str(raised.value)
    assert "has 3 problems" in message
    for key in ("web.prot", "compliance.sender_nam", "mailboxes.0.daily_cup"):
        assert f"'{key}': unknown key" in message


def test_a_dkim_key_file_path_is_no_secret_but_a_pasted_key_is(tmp_path) -> None:
    def problems(value: str) -> list[str]:
        settings = parse_settings(
            {
                "data_dir": str(tmp_path),
                "sender": {"smtp": {"dkim_selector": "s1", "dkim_private_key": value}},
            }
        )
        return [
            p.path for p in config_problems(settings, build_plugin_host(settings, load_entry_points=False))
        ]

    assert problems("/home/ann/dkim.pem") == []
    assert problems("env:DKIM_KEY") == []
    assert "sender.smtp.dkim_private_key" in problems("MIIEvQIBADANBgkqhkiG9w0BAQEFAASC")
