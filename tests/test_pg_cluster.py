"""The throwaway PostgreSQL server: it starts, hands out isolated databases, and stays on loopback."""

from __future__ import annotations

import os
import pwd
import socket
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest
from pg_cluster import PostgresCluster, PostgresNotFound, PostgresStartError, find_binaries


async def test_a_fresh_database_answers_as_the_outreach_superuser(postgres_url: str) -> None:
    parts = urlsplit(postgres_url)
    assert (parts.scheme, parts.username, parts.hostname) == ("postgresql", "outreach", "127.0.0.1")
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("select 1") == 1
        row = await connection.fetchrow("select current_user, current_database(), inet_server_addr()::text")
        assert tuple(row) == ("outreach", parts.path.lstrip("/"), "127.0.0.1/32")
        assert await connection.fetchval("select rolsuper from pg_roles where rolname = current_user")
        tables = await connection.fetchval("select count(*) from pg_tables where schemaname = 'public'")
        assert tables == 0
    finally:
        await connection.close()


async def test_pg_trgm_can_be_created_and_used(postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        await connection.execute("CREATE TABLE leads (name text)")
        await connection.execute("CREATE INDEX leads_name_trgm ON leads USING gin (name gin_trgm_ops)")
        await connection.executemany("INSERT INTO leads VALUES ($1)", [("Bakery Rossi",), ("Plumber Berg",)])
        names = await connection.fetch("SELECT name FROM leads WHERE name % 'bakery rosi'")
        assert [r["name"] for r in names] == ["Bakery Rossi"]
    finally:
        await connection.close()


async def test_two_databases_do_not_see_each_other(
    postgres_server: PostgresCluster, postgres_url: str
) -> None:
    other_url = postgres_server.create_database()
    try:
        assert other_url != postgres_url
        first = await asyncpg.connect(postgres_url)
        second = await asyncpg.connect(other_url)
        try:
            await first.execute("CREATE TABLE leads (id int); INSERT INTO leads VALUES (1)")
            assert await first.fetchval("SELECT count(*) FROM leads") == 1
            with pytest.raises(asyncpg.UndefinedTableError):
                await second.fetchval("SELECT count(*) FROM leads")
            await second.execute("CREATE TABLE leads (id int)")
            assert await second.fetchval("SELECT count(*) FROM leads") == 0
        finally:
            await first.close()
            await second.close()
    finally:
        postgres_server.drop_database(other_url)


async def test_a_dropped_database_is_gone_even_with_a_connection_open(
    postgres_server: PostgresCluster,
) -> None:
    url = postgres_server.create_database()
    leftover = await asyncpg.connect(url)
    postgres_server.drop_database(url)
    with pytest.raises(asyncpg.ConnectionDoesNotExistError, match="administrator command"):
        await leftover.fetchval("select 1")
    with pytest.raises(asyncpg.InvalidCatalogNameError):
        await asyncpg.connect(url)


async def test_it_listens_on_127_0_0_1_only(postgres_server: PostgresCluster, postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await connection.fetchval("show listen_addresses") == "127.0.0.1"
        assert Path(await connection.fetchval("show unix_socket_directories")) == postgres_server.root
    finally:
        await connection.close()
    # The rest of 127/8 and ::1 reach this host too: a server on every address would answer there.
    assert not _accepts(socket.AF_INET, "127.0.0.2", postgres_server.port)
    assert not _accepts(socket.AF_INET6, "::1", postgres_server.port)
    assert _accepts(socket.AF_INET, "127.0.0.1", postgres_server.port)


def _accepts(family: socket.AddressFamily, address: str, port: int) -> bool:
    try:
        with socket.socket(family) as sock:
            sock.settimeout(2)
            sock.connect((address, port))
    except OSError:
        return False
    return True


async def test_durability_is_off_and_the_cluster_is_utf8_with_the_c_locale(postgres_url: str) -> None:
    connection = await asyncpg.connect(postgres_url)
    try:
        names = ("fsync", "synchronous_commit", "full_page_writes", "max_connections", "server_encoding")
        settings = {name: await connection.fetchval(f"show {name}") for name in names}
        assert settings == {
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "server_encoding": "UTF8",
        }
        assert (
            await connection.fetchval("select datcollate from pg_database where datname = current_database()")
            == "C"
        )
    finally:
        await connection.close()


def test_the_data_directory_belongs_to_the_server_user(postgres_server: PostgresCluster) -> None:
    expected = pwd.getpwnam("postgres").pw_uid if os.geteuid() == 0 else os.geteuid()
    info = postgres_server.data_dir.stat()
    assert info.st_uid == expected
    assert stat.S_IMODE(info.st_mode) & 0o077 == 0


def test_stopping_kills_the_server_and_removes_its_directory() -> None:
    cluster = PostgresCluster.start()
    port, root = cluster.port, cluster.root
    assert cluster.sql("select 40 + 2") == "42"
    with cluster:
        pass
    assert not root.exists()
    with socket.socket() as sock, pytest.raises(ConnectionRefusedError):
        sock.connect(("127.0.0.1", port))
    cluster.stop()


def test_a_session_that_exits_without_stopping_still_stops_its_server() -> None:
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from pg_cluster import PostgresCluster\n"
        "cluster = PostgresCluster.start()\n"
        "print(cluster.port, cluster.root)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    port, root = done.stdout.split()
    assert not Path(root).exists()
    assert not _accepts(socket.AF_INET, "127.0.0.1", int(port))


def test_a_server_that_cannot_start_says_why_with_its_log() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PostgresStartError) as failure:
            PostgresCluster.start(port=port)
    message = str(failure.value)
    assert f"127.0.0.1:{port}" in message
    assert "could not bind" in message
    assert "Address already in use" in message


def _fake_install(bindir: Path, names: tuple[str, ...] = ("initdb", "pg_ctl", "postgres", "psql")) -> None:
    bindir.mkdir(parents=True)
    for name in names:
        program = bindir / name
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)


def test_the_newest_debian_version_is_chosen_when_path_has_none(tmp_path: Path) -> None:
    root = tmp_path / "postgresql"
    for version in ("9.6", "15", "16"):
        _fake_install(root / version / "bin")
    _fake_install(root / "17" / "bin", names=("psql",))  # only the client: not a server install
    binaries = find_binaries(path=str(tmp_path / "empty"), debian_root=root)
    assert binaries.initdb == root / "16" / "bin" / "initdb"
    assert binaries.pg_ctl == root / "16" / "bin" / "pg_ctl"


def test_the_programs_on_path_come_first(tmp_path: Path) -> None:
    _fake_install(tmp_path / "bin")
    _fake_install(tmp_path / "postgresql" / "16" / "bin")
    binaries = find_binaries(path=str(tmp_path / "bin"), debian_root=tmp_path / "postgresql")
    assert binaries.initdb == tmp_path / "bin" / "initdb"
    assert binaries.psql == tmp_path / "bin" / "psql"


def test_no_postgresql_says_what_to_install(tmp_path: Path) -> None:
    _fake_install(tmp_path / "bin", names=("psql", "pg_ctl"))
    with pytest.raises(PostgresNotFound, match="apt-get install postgresql"):
        find_binaries(path=str(tmp_path / "bin"), debian_root=tmp_path / "postgresql")
