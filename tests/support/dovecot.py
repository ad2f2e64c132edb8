"""A throwaway Dovecot IMAP server on loopback, for tests that read real mailboxes.

It runs in the foreground with its own configuration, state and maildirs under a
temporary directory, one plain-text user, and no TLS (loopback only).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


@dataclass
class ImapServer:
    """Where the server listens and who can log in."""

    host: str
    port: int
    username: str
    password: str
    root: Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _mail_user() -> tuple[int, int, str]:
    """The uid/gid mail is stored as: ourselves, or an unprivileged user when we are root."""
    if os.getuid() != 0:
        return os.getuid(), os.getgid(), pwd.getpwuid(os.getuid()).pw_name
    for name in ("dovecot", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid, name
    raise RuntimeError("no unprivileged user to store mail as")


CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
last_valid_uid = {uid}
first_valid_gid = 0
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
{login_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""


@contextlib.contextmanager
def running_dovecot(username: str = "ann@example.com", password: str = "imap-secret") -> Iterator[ImapServer]:
    """Start Dovecot in a fresh directory and stop it (and remove the directory) afterwards.

    The directory is made outside pytest's private temporary tree because Dovecot's
    auth process runs as an unprivileged user that must be able to read it.
    """
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
    root.chmod(0o755)
    try:
        with _dovecot(root, username, password) as server:
            yield server
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _dovecot(root: Path, username: str, password: str) -> Iterator[ImapServer]:
    uid, gid, user_name = _mail_user()
    port = _free_port()
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "users").write_text(f"{username}:{{PLAIN}}{password}::::\n")
    login_user = (
        "" if os.getuid() == 0 else f"default_login_user = {user_name}\ndefault_internal_user = {user_name}"
    )
    config = root / "dovecot.conf"
    config.write_text(CONFIG.format(root=root, uid=uid, gid=gid, port=port, login_user=login_user))
    if os.getuid() == 0:
        for sub in ("mail", "home"):
            os.chown(root / sub, uid, gid)
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
                raise RuntimeError(f"dovecot exited: {output}\n{log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock,
            ):
                if sock.recv(64).startswith(b"* OK"):
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("dovecot did not start listening within 15 s")
        yield ImapServer("127.0.0.1", port, username, password, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
