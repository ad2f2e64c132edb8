"""Importing a CSV of leads from the browser: the upload, the column mapping, the import job.

A file whose header names the business name is imported at once. Otherwise the answer
is a form asking which column holds which lead field, beside the file's first rows;
submitting it imports the same saved file with that mapping, exactly as the command
line's ``--map FIELD=HEADER`` does. The form carries the saved file's name, never a
path, and that name must resolve to a file in the data directory's ``imports`` folder.
The CSV source reads the columns (its optional ``columns(data, name)``), so the form
shows the file as the import will read it.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from litestar import Request, Response, post
from litestar.datastructures import UploadFile

from outreach.kernel.contracts import DiscoveryQuery
from outreach.kernel.errors import ImportFileError, InvalidInput
from outreach.kernel.private_files import private_dir, write_private
from outreach.kernel.runtime import Runtime
from outreach.kernel.services.discovery import submit_discovery
from outreach.web.rendering import render

from ..import_mappings import recall_mapping, remember_mapping
from . import WEB_ACTOR, runtime

#: The largest CSV the browser may upload (Litestar refuses bigger bodies with 413).
MAX_UPLOAD = 20 * 1024 * 1024
#: The discovery source that imports CSV files.
SOURCE = "csv"
#: What :func:`upload_name` makes: a time stamp, a dash, a cleaned file name.
_UPLOAD_NAME = re.compile(r"\d{8}T\d{12}-[A-Za-z0-9._-]{1,80}")


def upload_name(original: str | None) -> str:
    """A safe file name for an uploaded CSV, stamped with the time it arrived."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", (original or "upload.csv").rsplit("/", 1)[-1]).strip(".-")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    return f"{stamp}-{stem[:80] or 'upload.csv'}"


def imports_dir(rt: Runtime) -> Path:
    """The data directory's folder of uploaded files (0700, created on first use)."""
    return private_dir(rt.settings.data_path / "imports")


def saved_upload(rt: Runtime, token: str) -> Path:
    """The uploaded file a mapping form names; :class:`InvalidInput` for any other name."""
    folder = imports_dir(rt)
    path = folder / token
    if not _UPLOAD_NAME.fullmatch(token) or path.resolve().parent != folder.resolve() or not path.is_file():
        raise InvalidInput("This import form does not name a file that was uploaded; upload the CSV again.")
    return path


async def read_columns(rt: Runtime, data: bytes, name: str) -> Any | None:
    """The CSV source's view of the file's columns, or None when the source offers none."""
    columns = getattr(rt.plugins.discovery_sources.get(SOURCE), "columns", None)
    if not callable(columns):
        return None
    try:
        # Detecting the encoding of a large file takes a while; keep the event loop free.
        return await asyncio.to_thread(columns, data, name)
    except ImportFileError as exc:
        raise InvalidInput(str(exc)) from None


def mapping_form(
    request: Request[Any, Any, Any],
    token: str,
    plan: Any,
    mapping: dict[str, str] | None = None,
    *,
    problems: list[str] | None = None,
    recalled: bool = False,
) -> Response[str]:
    """The form that asks which column holds which field (422 with ``problems``)."""
    context = {
        "upload": token,
        "filename": token.split("-", 1)[1],
        "plan": plan,
        "choices": plan.choices(mapping),
        "problems": problems or [],
        "recalled": recalled,
    }
    status = 422 if problems else 200
    # A refused mapping replaces the form it came from, so nothing the person chose is lost.
    headers = {"HX-Retarget": "#import-status", "HX-Reswap": "innerHTML"} if problems else None
    return render(request, "leads/import.html", context, block="mapping", status_code=status, headers=headers)


async def _start(
    request: Request[Any, Any, Any], path: Path, mapping: dict[str, str], *, fragment: bool | None = None
) -> Response[str]:
    """Queue the import of ``path`` with ``mapping``; answer the job's self-polling progress."""
    query = DiscoveryQuery(query=str(path), options={"mapping": mapping} if mapping else {})
    job = await submit_discovery(runtime(request), SOURCE, query, actor=WEB_ACTOR)
    return render(request, "jobs/detail.html", {"job": job}, block="job", fragment=fragment)


@post("/leads/import", name="leads_import", include_in_schema=False, request_max_body_size=MAX_UPLOAD)
async def leads_import(request: Request[Any, Any, Any]) -> Response[str]:
    """Save an uploaded CSV and queue its import, or ask for its columns when its header is unknown."""
    data = await request.form()
    upload = data.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise InvalidInput("Choose a CSV file to import first.")
    content = await upload.read()
    if not content.strip():
        raise InvalidInput(f"{upload.filename} is empty; there is nothing to import.")
    rt = runtime(request)
    plan = await read_columns(rt, content, upload.filename)
    path = imports_dir(rt) / upload_name(upload.filename)
    write_private(path, content)  # names, addresses, phones: 0600 like the rest of the data dir
    if plan is None or plan.complete:
        return await _start(request, path, {}, fragment=True)
    recalled = recall_mapping(imports_dir(rt), plan.headers)
    if recalled is not None and plan.problems(recalled):
        recalled = None
    return mapping_form(request, path.name, plan, recalled, recalled=recalled is not None)


@post("/leads/import/mapping", name="leads_import_mapping", include_in_schema=False)
async def leads_import_mapping(request: Request[Any, Any, Any]) -> Response[str]:
    """Import an uploaded CSV with the columns the person chose for each lead field."""
    data = await request.form()
    rt = runtime(request)
    token = str(data.get("upload") or "")
    path = saved_upload(rt, token)
    plan = await read_columns(rt, await asyncio.to_thread(path.read_bytes), token.split("-", 1)[1])
    if plan is None:
        raise InvalidInput(f"The '{SOURCE}' import in use cannot map columns; rename the file's columns.")
    mapping = {choice.field: str(data.get(f"column-{choice.field}") or "") for choice in plan.choices()}
    problems = plan.problems(mapping)
    if problems:
        return mapping_form(request, token, plan, mapping, problems=problems)
    remember_mapping(imports_dir(rt), plan.headers, mapping)
    return await _start(request, path, mapping)
