"""The settings page: what a first real send needs, edited in the browser, and what outreach runs with.

Saving writes ``outreach.toml`` (comments and layout kept), checks the new file exactly
as start-up does, and puts it into effect at once. A file that cannot be written, or
settings that do not pass the checks, change nothing: the form keeps what was typed
(but never a typed secret) and says what to do.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from litestar import Request, Response, get, post

from outreach.kernel.config import parse_settings, secret_references, settings_as_dict
from outreach.kernel.config_file import (
    config_target,
    edit_config,
    read_config_text,
    settings_as_toml,
    write_config,
)
from outreach.kernel.errors import ConfigError, SecretUnavailable
from outreach.kernel.logs import log_path
from outreach.kernel.reconfigure import apply_settings, check_settings
from outreach.kernel.runtime import Runtime
from outreach.kernel.secrets import store_in_keyring
from outreach.web.rendering import render
from outreach.web.settings_form import (
    KEYRING_SERVICE,
    SECRET_FIELDS,
    SECURITY_CHOICES,
    SettingsForm,
    changes_of,
    parse_form,
)

from . import WEB_ACTOR, runtime, sending_problems


def _target(rt: Runtime) -> tuple[Path | None, str | None]:
    """The file the form saves to, or why there is none."""
    try:
        return config_target(rt.settings), None
    except ConfigError as exc:
        return None, str(exc)


def _context(rt: Runtime, form: SettingsForm, **extra: Any) -> dict[str, Any]:
    settings = rt.settings
    config = settings_as_dict(settings)
    token = settings.web.access_token
    target, no_target = _target(rt)
    return {
        "form": form,
        "senders": rt.plugins.senders.names(),
        "security_choices": SECURITY_CHOICES,
        "target": str(target) if target else None,
        "no_target": no_target,
        "missing": sending_problems(rt),
        "source": settings.source or "no config file yet (every default applies)",
        "files": [
            ("Data directory", str(settings.data_path)),
            ("Database", str(settings.database_path)),
            ("Log file", str(log_path(settings.data_path))),
            ("Outbox folder", str(settings.data_path / "outbox")),
            ("Data key from", rt.vault.source),
        ],
        "web": settings.web,
        "listening": rt.listening or f"{settings.web.host}:{settings.web.port}",
        "access_token": str(token) if token is not None else None,
        "access_token_set": token.available() if token is not None else False,
        "secrets": secret_references(config),
        "config_toml": settings_as_toml(settings),
        "plugins": rt.plugins.plugins(),
        "failures": rt.plugins.failures,
        "disabled": settings.disabled,
        "saved": None,
        "error": None,
        "unsaved_toml": None,
        **extra,
    }


@get("/settings", name="settings", include_in_schema=False)
async def settings_page(request: Request[Any, Any, Any]) -> Response[str]:
    """The settings form, what real sending still needs, and what outreach runs with."""
    rt = runtime(request)
    form = SettingsForm.from_settings(rt.settings, rt.mailboxes.all_settings())
    return render(request, "settings.html", _context(rt, form))


def _store_secrets(typed: dict[str, str]) -> None:
    for field, value in typed.items():
        store_in_keyring(KEYRING_SERVICE, ".".join(SECRET_FIELDS[field]), value)


@post("/settings", name="settings_save", include_in_schema=False, status_code=200)
async def settings_save(request: Request[Any, Any, Any]) -> Response[str]:
    """Check, write and apply the form; on any problem, change nothing and say what to do."""
    rt = runtime(request)
    data = {key: value for key, value in (await request.form()).items()}
    previous = SettingsForm.from_settings(rt.settings, rt.mailboxes.all_settings())
    form, typed = parse_form(data, previous.secret_refs)
    changes = changes_of(form, rt.plugins.senders.names())
    if form.errors:
        context = _context(rt, form, error="Some fields need a change; each says what is wrong.")
        return render(request, "settings.html", context, status_code=422)
    target, no_target = _target(rt)
    if target is None:
        return render(request, "settings.html", _context(rt, form, error=no_target), status_code=409)
    text = ""
    try:
        text = edit_config(read_config_text(target), changes)
        settings = parse_settings(tomllib.loads(text), source=str(target))
        # Everything the file does not set stays as it runs now (a --data-dir, for one).
        settings.data_dir = rt.settings.data_dir
        plugins = check_settings(rt, settings)
        _store_secrets(typed)
        write_config(target, text)
        released = await apply_settings(rt, settings, plugins, actor=WEB_ACTOR)
    except (ConfigError, SecretUnavailable) as exc:
        context = _context(rt, form, error=str(exc), unsaved_toml=text or None)
        return render(request, "settings.html", context, status_code=422)
    saved = f"Saved to {target} and in effect now."
    if released:
        saved += f" {len(released)} email(s) held back for these settings are being sent again."
    fresh = SettingsForm.from_settings(rt.settings, rt.mailboxes.all_settings())
    return render(request, "settings.html", _context(rt, fresh, saved=saved))
