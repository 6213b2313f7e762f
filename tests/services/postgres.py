"""A real PostgreSQL server on a free loopback port, one per test session.

``initdb`` refuses to run as root, so as root the server runs as the ``postgres`` user
(``runuser``); a non-root developer runs the same binaries directly. Each test gets a
fresh database on the shared server (``postgres_url``).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services.ports import free_port, port_open, wait_until

INSTALL_HINT = "apt-get install postgresql"
_counter = itertools.count()


def _pg_bin_dir() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    found = shutil.which("initdb")
    if found is None:
        pytest.fail(f"PostgreSQL not found; install it with: {INSTALL_HINT}", pytrace=False)
    return Path(found).parent


@dataclass
class PostgresServer:
    """A running server: ``url(db)`` gives a psycopg URL, ``create_database`` a fresh one."""

    bin_dir: Path
    directory: Path
    port: int

    def _run(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        data = self.directory / "db"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres")
        if not data.exists():
            self._run(
                str(self.bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"
            )
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
            "-l", str(self.directory / "log"), "-w", "start",
        )  # fmt: skip
        wait_until(lambda: port_open(self.port), 30.0, f"postgres on port {self.port}")

    def stop(self) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.directory / "db"), "-m", "fast", "stop"
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A server in a fresh folder, stopped and removed on exit."""
    bin_dir = _pg_bin_dir()
    # Outside pytest's private temp tree: the postgres user must be able to enter it.
    directory = Path(tempfile.mkdtemp(prefix="fieldproof-postgres-"))
    server = PostgresServer(bin_dir, directory, free_port())
    try:
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One server for the whole session (initdb takes seconds)."""
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database(f"t{os.getpid()}_{next(_counter)}")
