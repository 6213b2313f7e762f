"""A three-node NATS cluster (JetStream, MQTT on every node) on free loopback ports, from
the shipped deploy/nats/nats-server.conf and the Debian binary.

Each node can be killed, stopped and started again on the same ports and store; the
cluster's logins are whatever ``auth`` text the caller gives (a provisioned fleet's, or
one open test login).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.services.ports import free_port, port_open, require_binary, wait_until

INSTALL_HINT = "apt-get install nats-server"
REPO = Path(__file__).resolve().parents[2]
SHIPPED_CONFIG = REPO / "deploy" / "nats" / "nats-server.conf"
NODE_NAMES = ("a", "b", "c")

# One login that may do anything, for tests of the transport rather than of permissions.
OPEN_AUTH = """accounts: {
  FIELDPROOF: {jetstream: enabled, users: [{user: test, password: test}]}
  SYS: {users: []}
}
system_account: SYS
"""


@dataclass
class NatsNode:
    """One ``nats-server`` process of the cluster."""

    binary: Path
    name: str
    directory: Path
    client_port: int
    route_port: int
    mqtt_port: int
    monitor_port: int
    routes: tuple[int, ...]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def environment(self) -> dict[str, str]:
        route_a, route_b, route_c = (f"nats-route://127.0.0.1:{p}" for p in self.routes)
        return {
            **os.environ,
            "FP_NATS_NAME": self.name,
            "FP_NATS_CLIENT": f"127.0.0.1:{self.client_port}",
            "FP_NATS_MONITOR": f"127.0.0.1:{self.monitor_port}",
            "FP_NATS_STORE": str(self.directory / "jetstream"),
            "FP_NATS_ROUTE": f"127.0.0.1:{self.route_port}",
            "FP_NATS_ROUTE_A": route_a,
            "FP_NATS_ROUTE_B": route_b,
            "FP_NATS_ROUTE_C": route_c,
            "FP_NATS_MQTT": f"127.0.0.1:{self.mqtt_port}",
        }

    def start(self, config: Path) -> None:
        log = (self.directory / "nats.log").open("ab")
        with log:
            self.process = subprocess.Popen(
                [str(self.binary), "-c", str(config)],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        # The MQTT listener opens once JetStream is up, which waits for the cluster's
        # routes: slow on a loaded machine, hence the generous limit.
        log_path = self.directory / "nats.log"
        wait_until(
            lambda: port_open(self.client_port) and port_open(self.mqtt_port),
            60.0,
            f"nats node {self.name} (log {log_path})",
        )

    def kill(self) -> None:
        """SIGKILL: what the node had not written to its store is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
            self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None

    def healthy(self) -> bool:
        """The node answers /healthz with JetStream current (meta leader known, its
        streams caught up)."""
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.monitor_port}/healthz", timeout=2
            ) as answer:
                return bool(json.load(answer).get("status") == "ok")
        except (OSError, ValueError, urllib.error.URLError):
            return False


@dataclass
class NatsCluster:
    """Three nodes sharing one config file (the shipped one, TLS off for loopback)."""

    directory: Path
    nodes: list[NatsNode]
    config: Path

    @property
    def url(self) -> str:
        """The aggregator's ``nats://host:port,…`` URL."""
        return "nats://" + ",".join(f"127.0.0.1:{n.client_port}" for n in self.nodes)

    @property
    def servers(self) -> list[str]:
        """The same, one URL per node (as NATS clients take them)."""
        return [f"nats://127.0.0.1:{n.client_port}" for n in self.nodes]

    @property
    def mqtt_urls(self) -> list[str]:
        """One ``mqtt://`` URL per node, for a device's list."""
        return [f"mqtt://127.0.0.1:{node.mqtt_port}" for node in self.nodes]

    def start(self) -> None:
        for node in self.nodes:
            if not node.running:
                node.start(self.config)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 60.0) -> None:
        wait_until(
            lambda: all(node.healthy() for node in self.nodes if node.running),
            timeout,
            "the nats cluster's JetStream",
        )

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def shipped_config(auth: str, directory: Path) -> Path:
    """deploy/nats/nats-server.conf beside ``auth`` as its nats-auth.conf, without the
    device listener's TLS block (the tests speak plain MQTT on loopback)."""
    text = SHIPPED_CONFIG.read_text()
    text, removed = re.subn(r"\n  tls \{.*?\n  \}\n", "\n", text, flags=re.S)
    assert removed == 1, "the shipped config's mqtt tls block moved"
    config = directory / "nats-server.conf"
    config.write_text(text)
    auth_path = directory / "nats-auth.conf"
    auth_path.write_text(auth)
    auth_path.chmod(0o600)
    return config


def start_cluster(tmp_path: Path, auth: str = OPEN_AUTH) -> NatsCluster:
    binary = require_binary("nats-server", INSTALL_HINT, extra_dirs=("/usr/sbin", "/usr/bin"))
    directory = tmp_path / f"nats-{free_port()}"
    directory.mkdir(parents=True)
    config = shipped_config(auth, directory)
    routes = tuple(free_port() for _ in NODE_NAMES)
    nodes = []
    for name, route in zip(NODE_NAMES, routes, strict=True):
        node_dir = directory / name
        node_dir.mkdir()
        ports = (free_port(), route, free_port(), free_port())
        nodes.append(NatsNode(binary, name, node_dir, *ports, routes=routes))
    cluster = NatsCluster(directory, nodes, config)
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A fresh three-node cluster with one open login (``test``/``test``)."""
    cluster = start_cluster(tmp_path)
    yield cluster
    cluster.stop()
