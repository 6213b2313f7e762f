"""A real InfluxDB (1.x, v1 HTTP API) on free loopback ports, one per test session."""

from __future__ import annotations

import itertools
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services.ports import free_port, require_binary, wait_until

INSTALL_HINT = "apt-get install influxdb"
_counter = itertools.count()


def _ping(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=0.5) as response:
            return bool(response.status == 204)
    except OSError:
        return False


@dataclass
class InfluxServer:
    """An ``influxd`` process that a test can stop and start again on the same port."""

    binary: Path
    directory: Path
    port: int
    rpc_port: int
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def config_text(self) -> str:
        d = self.directory
        return (
            "reporting-disabled = true\n"
            f'bind-address = "127.0.0.1:{self.rpc_port}"\n'
            f'[meta]\n  dir = "{d}/meta"\n'
            f'[data]\n  dir = "{d}/data"\n  wal-dir = "{d}/wal"\n  query-log-enabled = false\n'
            f'[http]\n  bind-address = "127.0.0.1:{self.port}"\n  log-enabled = false\n'
            "[monitor]\n  store-enabled = false\n"
        )

    def start(self) -> None:
        config = self.directory / "influxdb.conf"
        config.write_text(self.config_text())
        self.process = subprocess.Popen(
            [str(self.binary), "-config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "influxd.log").open("ab"),
        )
        wait_until(lambda: _ping(self.port), 30.0, f"influxd on port {self.port}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        self.process.wait(timeout=20)
        self.process = None

    def url(self, database: str) -> str:
        return f"influx://127.0.0.1:{self.port}/{database}"


@pytest.fixture(scope="session")
def influxdb_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    binary = require_binary("influxd", INSTALL_HINT, extra_dirs=("/usr/bin",))
    server = InfluxServer(binary, tmp_path_factory.mktemp("influxdb"), free_port(), free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def influxdb_url(influxdb_server: InfluxServer) -> str:
    """A URL naming a fresh database (created on first use by the series store)."""
    return influxdb_server.url(f"t{next(_counter)}")
