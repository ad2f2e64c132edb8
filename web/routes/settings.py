"""The settings page: the configuration in effect, the plugins, and where everything lives."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, get

from outreach.kernel.config import secret_references, settings_as_dict
from outreach.kernel.logs import log_path
from outreach.web.rendering import render

from . import runtime


@get("/settings", name="settings", include_in_schema=False)
async def settings_page(request: Request[Any, Any, Any]) -> Response[str]:
    """What outreach runs with: files, web access, secrets (as references), plugins."""
    rt = runtime(request)
    settings = rt.settings
    config = settings_as_dict(settings)
    token = settings.web.access_token
    return render(
        request,
        "settings.html",
        {
            "source": settings.source or "no config file (every default applies)",
            "files": [
                ("Data directory", str(settings.data_path)),
                ("Database", str(settings.database_path)),
                ("Log file", str(log_path(settings.data_path))),
                ("Outbox folder", str(settings.data_path / "outbox")),
                ("Data key from", rt.vault.source),
            ],
            "web": settings.web,
            "access_token": str(token) if token is not None else None,
            "access_token_set": token.available() if token is not None else False,
            "secrets": secret_references(config),
            "config_json": json.dumps(config, indent=2, ensure_ascii=False, default=str),
            "plugins": rt.plugins.plugins(),
            "failures": rt.plugins.failures,
            "disabled": settings.disabled,
        },
    )
