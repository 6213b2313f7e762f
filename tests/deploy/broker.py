"""Start Mosquitto with the shipped ACL/config and a provisioned password file."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.services.mosquitto import INSTALL_HINT, MosquittoBroker, start_broker
from tests.services.ports import free_port, port_open, require_binary, wait_until

REPO = Path(__file__).resolve().parents[2]
SHIPPED_ACL = REPO / "deploy" / "mosquitto" / "acl"


def secured_broker(tmp_path: Path, passwd: Path, extra: str = "") -> MosquittoBroker:
    """A broker on a plain loopback listener with password login and the shipped ACL.

    ``user root`` keeps a root test run able to read the files in its private temp dir
    (Mosquitto drops to the ``mosquitto`` user otherwise); it is ignored unprivileged.
    """
    config = (
        f"user root\nallow_anonymous false\npassword_file {passwd}\nacl_file {SHIPPED_ACL}\n{extra}"
    )
    return start_broker(tmp_path, config)


@dataclass
class ProductionBroker:
    """Mosquitto run from the shipped deploy/mosquitto/mosquitto.conf; it can be killed
    and started again on the same ports and store."""

    binary: Path
    config: Path
    tls_port: int
    plain_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def plain_url(self) -> str:
        return f"mqtt://127.0.0.1:{self.plain_port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [str(self.binary), "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(
            lambda: port_open(self.tls_port) and port_open(self.plain_port),
            10.0,
            "production mosquitto",
        )

    def kill(self) -> None:
        """SIGKILL: whatever the broker had not saved yet is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def production_broker(tmp_path: Path, files: Path) -> ProductionBroker:
    """The shipped config with its paths pointed at ``files`` (a fleet's broker/ dir)
    and its listeners moved to free loopback ports."""
    binary = require_binary("mosquitto", INSTALL_HINT, extra_dirs=("/usr/sbin",))
    directory = tmp_path / f"prod-mosquitto-{free_port()}"
    directory.mkdir()
    tls_port, plain_port = free_port(), free_port()
    if (files / "acl").exists():
        (files / "acl").chmod(0o640)
    shutil.copy(SHIPPED_ACL, files / "acl")
    text = (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    text = (
        text.replace("/etc/mosquitto/fieldproof/", f"{files}/")
        .replace("/var/lib/mosquitto/", f"{directory}/")
        .replace("listener 8883\n", f"listener {tls_port} 127.0.0.1\n")
        .replace("listener 1883 127.0.0.1\n", f"listener {plain_port} 127.0.0.1\n")
        .replace("log_dest syslog\n", f"log_dest file {directory}/mosquitto.log\n")
    )
    config = directory / "mosquitto.conf"
    config.write_text("user root\n" + text)
    broker = ProductionBroker(binary, config, tls_port, plain_port, directory)
    broker.start()
    return broker
