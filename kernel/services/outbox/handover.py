"""Each worker's hand-over log: which claimed emails it has begun handing to a server.

A worker appends to ``<data dir>/outbox/handover/<owner>.log`` (0600, in a 0700
folder), one line per event, each with a single ``write()`` on a file opened with
``O_APPEND``:

- ``B <boot id> <owner>``: the first line, written when the file is opened;
- ``H <email id> <version>``: just before anything that could make a server accept
  the email (for SMTP, before DATA; for other senders, before the call);
- ``A <email id> [<JSON provider ids>]``: the server accepted it;
- ``N <email id>``: the send ended with the email certainly not with any server
  (refused before it was accepted, or the server could not be reached).

There is no fsync: a line is in the kernel's page cache once ``write()`` returns, so
it survives the death of the process (SIGKILL included), not of the machine. That is
why a reader trusts a file only on the host that wrote it and only while the machine
has not rebooted since (the boot id of the ``B`` line is the current one), and only
when every complete line in it parses; an incomplete last line is a write that never
returned, so nothing was sent after it. Anything else makes the whole file untrusted,
and reconciliation does what it does without one. A mark costs a few microseconds
where a committed database write cost about a millisecond.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from functools import cache
from pathlib import Path

import msgspec
import structlog

from ...private_files import FILE_MODE, private_dir

log = structlog.get_logger("outreach.outbox")

BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")

#: States of one email in a log, after its last ``H`` line.
HANDED_OVER, ACCEPTED, NOT_HANDED_OVER = "handed_over", "accepted", "not_handed_over"


class HandoverNotRecorded(Exception):
    """The hand-over mark could not be written: the message must not be handed over."""


@cache
def boot_id() -> str | None:
    """This boot's id (Linux), or None where there is none: then no log is ever trusted."""
    try:
        value = BOOT_ID_FILE.read_text().strip()
    except OSError:
        return None
    return value if value and " " not in value else None


def handover_dir(data_path: Path) -> Path:
    """The folder of every worker's hand-over log."""
    return data_path / "outbox" / "handover"


def handover_path(data_path: Path, owner: str) -> Path:
    """The hand-over log of the worker named ``owner`` (``host:pid:nonce``)."""
    return handover_dir(data_path) / (re.sub(r"[^A-Za-z0-9._-]", "_", owner) + ".log")


class HandoverLog:
    """One worker's hand-over log, written with one ``os.write`` per line (no fsync)."""

    def __init__(self, data_path: Path, owner: str) -> None:
        self.owner = owner
        self.path = handover_path(data_path, owner)
        self._fd: int | None = None
        self._header = b""
        #: Set when the file could not be opened: the worker sends without marks, as if
        #: there were no log (reconciliation then trusts none).
        self._disabled = False

    def _open(self) -> int | None:
        if self._fd is not None or self._disabled:
            return self._fd
        header = f"B {boot_id() or '-'} {self.owner}\n".encode()
        fd = None
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, FILE_MODE)
            if os.write(fd, header) != len(header):
                raise OSError("short write")
        except OSError as exc:
            # No header: whatever is left of the file is never trusted, so sending
            # without marks is sending as before there were any.
            log.warning("handover_log_unavailable", path=str(self.path), error=str(exc))
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
            with contextlib.suppress(OSError):
                self.path.unlink()
            self._disabled = True
            return None
        self._fd, self._header = fd, header
        return fd

    def _write(self, line: bytes) -> None:
        fd = self._fd if self._fd is not None else self._open()
        if fd is None:
            return
        written = os.write(fd, line)
        if written != len(line):  # a regular file writes short only when full; say so
            raise OSError(f"short write to {self.path}")

    def handing_over(self, email_id: int, version: int) -> None:
        """Write that ``email_id`` (claimed at ``version``) is being handed over; raise if not written."""
        try:
            self._write(b"H %d %d\n" % (email_id, version))
        except OSError as exc:
            raise HandoverNotRecorded(f"the hand-over could not be recorded: {exc}") from exc

    def accepted(
        self, email_id: int, provider_message_id: str | None = None, provider_thread_id: str | None = None
    ) -> None:
        """Write that a server accepted ``email_id`` (a lost line leaves it uncertain: safe)."""
        ids = [provider_message_id, provider_thread_id] if provider_message_id or provider_thread_id else None
        line = b"A %d %s\n" % (email_id, msgspec.json.encode(ids)) if ids else b"A %d\n" % email_id
        self._settled(line)

    def not_handed_over(self, email_id: int) -> None:
        """Write that ``email_id`` is certainly with no server after all."""
        self._settled(b"N %d\n" % email_id)

    def _settled(self, line: bytes) -> None:
        try:
            self._write(line)
        except OSError as exc:
            log.warning("handover_log_write_failed", path=str(self.path), error=str(exc))

    def compact(self) -> None:
        """Forget every line but the header: call only when every email marked is recorded."""
        if self._fd is None:
            return
        try:
            if os.fstat(self._fd).st_size > len(self._header):
                os.ftruncate(self._fd, len(self._header))
        except OSError as exc:
            log.warning("handover_log_write_failed", path=str(self.path), error=str(exc))

    def close(self) -> None:
        """Close and delete the log (the worker stopped; its outcomes are recorded or orphaned)."""
        fd, self._fd = self._fd, None
        self._disabled = False
        if fd is None:
            return
        with contextlib.suppress(OSError):
            os.close(fd)
        with contextlib.suppress(OSError):
            self.path.unlink()


class Mark(msgspec.Struct, frozen=True):
    """What a log says of one email: its state after its last ``H`` line, at that claim's version."""

    version: int
    state: str
    provider_message_id: str | None = None
    provider_thread_id: str | None = None


def read_header(path: Path) -> tuple[str, str] | None:
    """The boot id and owner of a log's ``B`` line, or None if it has none."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(512)
    except OSError:
        return None
    parts = first.decode("utf-8", "replace").split()
    if not first.endswith(b"\n") or len(parts) != 3 or parts[0] != "B":
        return None
    return parts[1], parts[2]


def read_marks(path: Path, owner: str) -> dict[int, Mark] | None:
    """The marks of ``owner``'s log if it can be trusted (see the module doc), else None.

    The caller checks that ``owner`` ran on this host and is gone.
    """
    current = boot_id()
    if current is None:
        return None
    try:
        data = path.read_bytes()
    except OSError:
        return None
    lines = data.split(b"\n")
    lines.pop()  # the incomplete last line, or b"" after the last newline
    if not lines or lines[0].split() != [b"B", current.encode(), owner.encode()]:
        return None
    marks: dict[int, Mark] = {}
    for line in lines[1:]:
        kind, _, rest = line.partition(b" ")
        try:
            if kind == b"H":
                email_id, version = (int(v) for v in rest.split(b" "))
                marks[email_id] = Mark(version=version, state=HANDED_OVER)
            elif kind in (b"A", b"N"):
                head, _, extra = rest.partition(b" ")
                email_id = int(head)
                mark = marks.get(email_id)
                if mark is None or mark.state != HANDED_OVER:
                    return None  # never written so: not a log to rely on
                if kind == b"N":
                    marks[email_id] = Mark(version=mark.version, state=NOT_HANDED_OVER)
                    continue
                ids = msgspec.json.decode(extra, type=list[str | None]) if extra else [None, None]
                message_id, thread_id = [*ids, None, None][:2]
                marks[email_id] = Mark(
                    version=mark.version,
                    state=ACCEPTED,
                    provider_message_id=message_id,
                    provider_thread_id=thread_id,
                )
            else:
                return None
        except (ValueError, msgspec.DecodeError):
            return None
    return marks


def stale_logs(data_path: Path, keep: set[str]) -> list[tuple[Path, str | None]]:
    """This host's logs of workers other than ``keep``, each with its owner, or None if useless.

    A log with None may be deleted now: its header is from another boot (its worker
    is gone and the log is never trusted), or it has none and is over an hour old (a
    worker that could not write it). For a log with its owner, the caller decides:
    it may go once that worker is gone and has no email left in ``sending``. Another
    machine's logs (a data folder shared by two machines) are not listed.
    """
    folder = handover_dir(data_path)
    try:
        paths = [p for p in folder.iterdir() if p.suffix == ".log"]
    except OSError:
        return []
    host, current = socket.gethostname(), boot_id()
    found: list[tuple[Path, str | None]] = []
    for path in paths:
        header = read_header(path)
        if header is None:
            with contextlib.suppress(OSError):
                if time.time() - path.stat().st_mtime > 3600:
                    found.append((path, None))
            continue
        booted, owner = header
        if owner in keep or owner.partition(":")[0] != host:
            continue  # ours, or another machine's (sharing the folder): not ours to judge
        found.append((path, None if booted != current or current is None else owner))
    return found
