"""A real Mosquitto broker on a free loopback port, configured as we ship it for throughput."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services.ports import free_port, port_open, require_binary, wait_until

INSTALL_HINT = "apt-get install mosquitto"


@dataclass
class MosquittoBroker:
    """A broker process that a test can stop and start again on the same port and store."""

    binary: Path
    directory: Path
    port: int
    extra_config: str = ""
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def config_text(self) -> str:
        return (
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.directory}/\n"
            "autosave_interval 1\n"
            "set_tcp_nodelay true\n"
            "max_inflight_messages 1000\n"
            "max_queued_messages 100000\n"
            f"log_dest file {self.directory}/mosquitto.log\n"
            # As root, Mosquitto drops to its own user, which cannot write the test's store.
            + ("user root\n" if os.geteuid() == 0 and "user " not in self.extra_config else "")
            + self.extra_config
        )

    def start(self) -> None:
        config = self.directory / "mosquitto.conf"
        config.write_text(self.config_text())
        self.process = subprocess.Popen(
            [str(self.binary), "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: port_open(self.port), 10.0, f"mosquitto on port {self.port}")

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        if kill:
            self.process.kill()
        else:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def start_broker(tmp_path: Path, extra_config: str = "") -> MosquittoBroker:
    binary = require_binary("mosquitto", INSTALL_HINT, extra_dirs=("/usr/sbin",))
    directory = tmp_path / f"mosquitto-{os.getpid()}-{free_port()}"
    directory.mkdir(parents=True)
    broker = MosquittoBroker(binary, directory, free_port(), extra_config)
    broker.start()
    return broker


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A fresh broker for one test."""
    broker = start_broker(tmp_path)
    yield broker
    broker.stop()
