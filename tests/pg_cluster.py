"""A throwaway PostgreSQL server on loopback, for tests that need a real PostgreSQL.

One cluster is made with ``initdb`` in a temporary directory, started with ``pg_ctl`` on
127.0.0.1 and a free port (durability off, trust authentication, superuser ``outreach``),
and hands out fresh databases by URL. Stopping it kills the server and removes the
directory; an ``atexit`` hook does the same if the session ends without stopping it.

``initdb`` refuses to run as root, so as root the server runs as Debian's ``postgres``
system user in a directory that user owns.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

HOST = "127.0.0.1"
SUPERUSER = "outreach"
SERVER_USER = "postgres"
#: Where Debian's ``postgresql`` package installs each major version: ``15/bin/initdb``.
DEBIAN_ROOT = Path("/usr/lib/postgresql")
INSTALL_HINT = "install PostgreSQL (Debian: apt-get install postgresql) or put its bin directory on PATH"

#: Durability is worth nothing in a cluster deleted after the session, and costs time.
SERVER_SETTINGS = {
    "listen_addresses": HOST,
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
}
#: No ~/.psqlrc, no notices, bare rows, and a failing statement is a failing exit status.
PSQL_FLAGS = ("-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1")
START_ATTEMPTS = 3
LOG_TAIL_LINES = 40


class PostgresNotFound(RuntimeError):
    """PostgreSQL's server programs are not installed where we look."""


class PostgresStartError(RuntimeError):
    """initdb or the server failed; the message carries their output and the log's tail."""


@dataclass(frozen=True)
class Binaries:
    """The programs a cluster is made, run and queried with."""

    initdb: Path
    pg_ctl: Path
    psql: Path


def _version_key(directory: Path) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in directory.name.split("."))
    except ValueError:
        return None


def _complete(bindir: Path) -> Binaries | None:
    if all((bindir / name).is_file() for name in ("initdb", "pg_ctl", "postgres", "psql")):
        return Binaries(bindir / "initdb", bindir / "pg_ctl", bindir / "psql")
    return None


def find_binaries(path: str | None = None, debian_root: Path = DEBIAN_ROOT) -> Binaries:
    """``initdb``, ``pg_ctl`` and ``postgres`` from PATH, else the newest version under ``debian_root``.

    ``psql`` is taken from beside the server programs, or from PATH.

    :param path: the search path (``os.pathsep``-separated); the environment's PATH when None.
    :raises PostgresNotFound: with what to install, when neither place has them all.
    """
    found = {name: shutil.which(name, path=path) for name in ("initdb", "pg_ctl", "postgres")}
    if all(found.values()):
        initdb, pg_ctl = Path(found["initdb"] or ""), Path(found["pg_ctl"] or "")
        # psql from the same installation as the server when it is there (PATH may only
        # link the server programs, and Debian's /usr/bin/psql is a version-picking wrapper).
        psql = initdb.resolve().parent / "psql"
        if not psql.is_file():
            psql = Path(shutil.which("psql", path=path) or "")
        if psql.is_file():
            return Binaries(initdb, pg_ctl, psql)
    versions = [(key, d) for d in debian_root.glob("*") if (key := _version_key(d)) is not None]
    for _key, directory in sorted(versions, reverse=True):
        if binaries := _complete(directory / "bin"):
            return binaries
    raise PostgresNotFound(
        f"PostgreSQL's initdb, pg_ctl, postgres and psql are neither on PATH nor under "
        f"{debian_root}/*/bin: {INSTALL_HINT}."
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


def _server_user() -> tuple[list[str], pwd.struct_passwd | None]:
    """The command prefix that runs a program as the server's user, and that user if not us."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresNotFound(
            f"PostgreSQL refuses to run as root and there is no '{SERVER_USER}' system user to run it "
            f"as: {INSTALL_HINT}, or run the tests as an unprivileged user."
        ) from None
    if runuser := shutil.which("runuser"):
        return [runuser, "-u", SERVER_USER, "--"], user
    setpriv = shutil.which("setpriv") or "setpriv"
    return [setpriv, f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups", "--"], user


def _environment() -> dict[str, str]:
    # PGHOST, PGPORT, PGDATA and friends would point our programs at someone else's server.
    return {key: value for key, value in os.environ.items() if not key.startswith("PG")}


class PostgresCluster:
    """A running throwaway PostgreSQL server; :meth:`start` makes one."""

    def __init__(self, binaries: Binaries, root: Path, port: int, prefix: Sequence[str]) -> None:
        self.binaries = binaries
        self.root = root
        self.port = port
        self._prefix = list(prefix)
        self._running = True

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server's log."""
        return self.root / "server.log"

    @classmethod
    def start(cls, port: int | None = None) -> PostgresCluster:
        """initdb a cluster in a new temporary directory and start its server.

        :param port: the TCP port; a free one (tried again on another if taken meanwhile) when None.
        :raises PostgresNotFound: when PostgreSQL is not installed.
        :raises PostgresStartError: when initdb or the server fails, with their output.
        """
        binaries = find_binaries()
        prefix, user = _server_user()
        root = Path(tempfile.mkdtemp(prefix="outreach-pg-"))
        try:
            if user is not None:
                os.chown(root, user.pw_uid, user.pw_gid)
            cluster = cls(binaries, root, port or _free_port(), prefix)
            cluster._initdb()
            for attempt in range(1 if port else START_ATTEMPTS):
                if attempt:
                    cluster.port = _free_port()
                if cluster._start_server(last_try=bool(port) or attempt == START_ATTEMPTS - 1):
                    break
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        atexit.register(cluster.stop)
        return cluster

    def _run(self, args: Sequence[str | Path]) -> subprocess.CompletedProcess[str]:
        # The server's user may not be allowed into our working directory; the root is its own.
        return subprocess.run(
            [*self._prefix, *map(str, args)],
            cwd=self.root,
            env=_environment(),
            capture_output=True,
            text=True,
            check=False,
        )

    def _initdb(self) -> None:
        done = self._run(
            [
                self.binaries.initdb,
                "--pgdata",
                self.data_dir,
                "--auth=trust",
                f"--username={SUPERUSER}",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ]
        )
        if done.returncode != 0:
            raise PostgresStartError(f"initdb failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def _start_server(self, *, last_try: bool) -> bool:
        """Start the server on :attr:`port`; False if the port was taken and another may be tried."""
        settings = {**SERVER_SETTINGS, "port": str(self.port), "unix_socket_directories": str(self.root)}
        options = " ".join(f"-c {key}={shlex.quote(value)}" for key, value in settings.items())
        self.log_file.unlink(missing_ok=True)
        start = ["-w", "-t", "60", "-D", self.data_dir, "-l", self.log_file, "-o", options, "start"]
        done = self._run([self.binaries.pg_ctl, *start])
        if done.returncode == 0:
            return True
        log = _tail(self.log_file)
        self._pg_ctl_stop()
        if not last_try and "could not bind" in log:
            return False
        raise PostgresStartError(
            f"PostgreSQL did not start on {HOST}:{self.port} ({done.returncode}):\n"
            f"{done.stdout}{done.stderr}\n--- {self.log_file} (last {LOG_TAIL_LINES} lines) ---\n{log}"
        )

    def url(self, database: str) -> str:
        """The URL of ``database`` on this server, as the superuser."""
        return f"postgresql://{SUPERUSER}@{HOST}:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run one SQL statement through psql over TCP and return its unaligned output."""
        target = ["-h", HOST, "-p", str(self.port), "-U", SUPERUSER, "-d", database]
        done = subprocess.run(
            [self.binaries.psql, *PSQL_FLAGS, *target, "-c", statement],
            env=_environment(),
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql failed on {statement!r}: {done.stderr.strip()}")
        return done.stdout.strip()

    def create_database(self) -> str:
        """Create an empty database with a name of its own and return its URL."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.sql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, closing any connection still open to it."""
        name = urlsplit(url).path.lstrip("/")
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _pg_ctl_stop(self) -> None:
        # Immediate: nothing in the cluster is worth a clean shutdown's checkpoint.
        if (self.data_dir / "postmaster.pid").exists():
            self._run([self.binaries.pg_ctl, "-D", self.data_dir, "-m", "immediate", "-w", "stop"])

    def stop(self) -> None:
        """Kill the server and remove its directory; calling it again does nothing."""
        if not self._running:
            return
        self._running = False
        atexit.unregister(self.stop)
        try:
            self._pg_ctl_stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
