"""Configuration: TOML into Structs, errors that name the key, secrets by reference only."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec
import pytest

from outreach.kernel import PluginContext, SecretRef
from outreach.kernel.config import load_settings, parse_settings, settings_as_dict
from outreach.kernel.errors import ConfigError, SecretUnavailable

ISSUE_EXAMPLE = """
[sender]
backend = "smtp"          # default for every mailbox; a mailbox may set its own
failover = ["gmail"]

[sender.smtp]
host = "smtp.example.com"
port = 587
starttls = true
username = "ann@example.com"
password = "env:SMTP_PASSWORD"

[[mailboxes]]
name = "main"
from_address = "Ann Example <ann@example.com>"
daily_cap = 30
window = "09:00-17:00"    # in the recipient's timezone
weekdays_only = true
min_gap_seconds = 90

[compliance]
physical_address = "1 Main St, Springfield"
"""


def test_no_config_means_defaults(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nothing"))
    settings = load_settings(data_dir=tmp_path)
    assert settings.sender.backend == "outbox"
    assert settings.web.host == "127.0.0.1"
    assert settings.database_path == tmp_path / "outreach.db"


def test_the_documented_example_loads(tmp_path) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text(ISSUE_EXAMPLE)
    settings = load_settings(path, data_dir=tmp_path)
    assert settings.sender.backend == "smtp"
    assert settings.sender.failover == ["gmail"]
    assert settings.sender.backends["smtp"]["port"] == 587
    assert settings.mailboxes[0].from_address == "Ann Example <ann@example.com>"
    assert settings.compliance.physical_address == "1 Main St, Springfield"


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("[web]\nprot = 1\n", "'web.prot'"),
        ("colour = 'red'\n", "'colour'"),
        ("[[mailboxes]]\nname='a'\nfrom_address='a@b.c'\ndaily_cup=3\n", "'mailboxes.0.daily_cup'"),
        ("[web]\nport = 'eighty'\n", "'web.port'"),
        ("[sender]\nbackend = 'smtp'\nfailover = 'gmail'\n", "'sender.failover'"),
    ],
)
def test_wrong_keys_are_errors_that_name_the_key(tmp_path, toml, named) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert named in str(info.value)
    assert str(path) in str(info.value)


def test_invalid_toml_says_where(tmp_path) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text("[web\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path)


def test_missing_explicit_config_file_is_an_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="No config file"):
        load_settings(tmp_path / "missing.toml")


def test_data_dir_env_override(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OUTREACH_DATA_DIR", str(tmp_path / "elsewhere"))
    assert load_settings().data_path == tmp_path / "elsewhere"


def test_secrets_are_references_resolved_at_use(monkeypatch) -> None:
    settings = parse_settings({"web": {"access_token": "env:OUTREACH_TEST_TOKEN"}})
    ref = settings.web.access_token
    assert isinstance(ref, SecretRef)
    monkeypatch.delenv("OUTREACH_TEST_TOKEN", raising=False)
    with pytest.raises(SecretUnavailable, match="OUTREACH_TEST_TOKEN"):
        ref.resolve()
    monkeypatch.setenv("OUTREACH_TEST_TOKEN", "s3cret")
    assert ref.resolve() == "s3cret"
    assert "s3cret" not in json.dumps(settings_as_dict(settings))


def test_keyring_reference_without_a_backend_is_a_clear_error() -> None:
    with pytest.raises(SecretUnavailable, match="keyring"):
        SecretRef("keyring:outreach/smtp").resolve()


def test_a_secret_in_clear_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'web\.access_token'.*not the secret itself"):
        parse_settings({"web": {"access_token": "hunter2"}}, source="outreach.toml")


class SmtpLike(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str
    port: int = 587
    password: SecretRef | None = None


def test_plugin_tables_decode_with_errors_naming_the_key(make_settings) -> None:
    settings = make_settings(
        sender={"backend": "smtp", "smtp": {"host": "h", "password": "env:X", "prot": 1}},
        plugins={"google_maps": {"base_url": "http://127.0.0.1"}},
    )
    context = PluginContext(settings)
    with pytest.raises(ConfigError, match=r"'sender\.smtp\.prot'"):
        context.sender_options("smtp", SmtpLike)
    ok = make_settings(sender={"smtp": {"host": "h", "password": "env:X"}})
    assert PluginContext(ok).sender_options("smtp", SmtpLike).password == SecretRef("env:X")


def test_config_show_redacts_literals_and_shows_references(tmp_path) -> None:
    path = tmp_path / "outreach.toml"
    path.write_text(
        '[sender.smtp]\nhost = "smtp.example.com"\npassword = "hunter2"\n'
        '[plugins.thing]\napi_key = "env:THING_KEY"\n'
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "outreach.web.cli",
            "--config",
            str(path),
            "--data-dir",
            str(tmp_path),
            "config",
            "show",
        ],
        capture_output=True,
        text=True,
    )
    # The config is shown, then refused: a literal password, a plugin that is not installed.
    assert result.returncode == 1
    assert "'sender.smtp.password'" in result.stderr
    assert "'plugins.thing'" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["sender"]["smtp"]["password"] == "***redacted***"
    assert data["plugins"]["thing"]["api_key"] == "env:THING_KEY"
    assert data["secrets"] == {"env:THING_KEY": "missing"}
