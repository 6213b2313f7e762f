"""A small real network for fault cases: a broker from its shipped config with a
provisioned fleet, aggregator processes, agent processes replaying weather, and a load
generator.

The broker is pluggable (:class:`Transport`): the shipped Mosquitto by default, or any
transport that gives the agents' link keys and the aggregators' config sections (the
NATS cluster in ``tests/nats/``).

Everything runs on loopback from the real binaries and entry points; a case breaks one
part (kill, stop, restart) and the ledger is then checked against what every device
allocated: each seq a device's outbox handed out must be in the ledger exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import yaml

from aggregator.ledger import open_ledger
from aggregator.ledger.sql import SqlLedger
from demo.devices import WEATHER, WEATHER_COLUMNS
from edge_agent.link.config import LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from edge_agent.provisioning.fleet import (
    ALLOWLIST_NAME,
    DeviceBundle,
    FleetResult,
    provision_fleet,
)
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey, load_key, parse_device_id
from fieldproof.protocol import DeviceTopics
from fieldproof.wire import Record, Report, sign_report
from tests.aggregator.runtime import wait_for
from tests.deploy.broker import ProductionBroker, production_broker

REPO = Path(__file__).resolve().parents[2]


class Broker(Protocol):
    def stop(self) -> None: ...


B = TypeVar("B", bound=Broker)


@dataclass(frozen=True)
class Transport(Generic[B]):
    """A started broker and how to reach it: ``link`` holds the agents' link keys (url,
    protocol), ``ingest`` the aggregators' config sections (``mqtt`` url, ``nats`` …)."""

    broker: B
    link: Mapping[str, Any]
    ingest: Mapping[str, Mapping[str, Any]]


TransportFactory = Callable[[Path, FleetResult], Transport[B]]


def shipped_mosquitto(folder: Path, fleet: FleetResult) -> Transport[ProductionBroker]:
    """deploy/mosquitto's config with the fleet's logins; everyone on its plain listener."""
    broker = production_broker(folder, fleet.broker_dir)
    return Transport(broker, {"url": broker.plain_url}, {"mqtt": {"url": broker.plain_url}})


@dataclass(frozen=True)
class NetworkSettings:
    """Rates and timeouts of one fault network (small for tests, larger for bench)."""

    agents: int = 3
    report_interval_s: float = 0.25
    load_per_s: float = 40.0
    ack_timeout_s: float = 2.0
    # The devices' resend backoff stops doubling here (an hour in production): a resend
    # that a shared subscription hands to a dead aggregator's session comes back soon.
    max_resend_interval_s: float = 8.0
    session_expiry_s: int = 7 * 86400
    verify_workers: int = 0
    ledger_url: str | None = None  # None: SQLite in the network's folder


@dataclass(frozen=True)
class Tally:
    """One device's allocated seqs against the ledger."""

    allocated: int
    stored: int
    lost: int
    duplicated: int


def outbox_allocated(path: Path) -> int:
    """Seqs the outbox at ``path`` handed out (read beside the process that owns it)."""
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
    except sqlite3.OperationalError:  # created, schema not written yet
        return 0
    return 0 if row is None else int(row[0]) - 1


def ledger_seqs(ledger: SqlLedger, device_id: bytes, page: int = 5000) -> list[int]:
    """Every stored seq of one device, one entry per stored row."""
    seqs: list[int] = []
    before: int | None = None
    while True:
        heads = ledger.device_reports(device_id, before_seq=before, limit=page)
        seqs.extend(head.seq for head in heads)
        if len(heads) < page:
            return seqs
        before = heads[-1].seq


def contiguous(ledger: SqlLedger, device_id: bytes) -> int:
    """Highest N with seqs 1..N of the device stored (the ledger answers in steps)."""
    through = 0
    while True:
        further = ledger.contiguous_through(device_id, through)
        if further == through:
            return through
        through = further


def terminate(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (a clean stop), SIGKILL if that takes longer than 30 s."""
    if process is None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


class AggregatorProcess:
    """``python -m aggregator run`` on the network's broker, restartable."""

    def __init__(self, folder: Path, config: dict[str, Any], env: dict[str, str]) -> None:
        self.folder = folder
        self.config_path = folder / f"{config['mqtt']['client_id']}.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.log_path = folder / f"{config['mqtt']['client_id']}.log"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "aggregator", "run", "--config", str(self.config_path)],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(15)
            self.process = None

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def workers(self) -> list[int]:
        """Pids of this process's verify workers (its multiprocessing children)."""
        if self.process is None:
            return []
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if int(stat[1]) == self.process.pid and b"multiprocessing" in cmdline:
                found.append(int(proc.name))
        return found


class AgentProcess:
    """``fieldproof agent run`` for one provisioned device, replaying weather."""

    def __init__(
        self, bundle: DeviceBundle, settings: NetworkSettings, link: Mapping[str, Any]
    ) -> None:
        self.bundle = bundle
        self.settings = settings
        self.link = link
        self.directory = bundle.directory
        self.outbox_path = self.directory / "outbox.sqlite"
        self.log_path = self.directory / "agent.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def device_id(self) -> bytes:
        return bytes(parse_device_id(self.bundle.identity.device_id))

    def _config(self, produce: bool) -> dict[str, Any]:
        directory = self.directory
        sensors = [
            {
                "type": "replay",
                "name": "wx",
                "path": str(WEATHER),
                "columns": list(WEATHER_COLUMNS),
                "speed": 3600.0,
                "loop": True,
            }
        ]
        return {
            "identity": {
                "key_file": str(directory / "device.key"),
                "passphrase_file": str(directory / "secrets" / "key-passphrase"),
            },
            "link": {
                **self.link,
                "username": self.bundle.identity.device_id,
                "password": "${env:FIELDPROOF_TEST_MQTT_PASSWORD}",
                "reconnect_initial_s": 0.1,
                "reconnect_max_s": 1.0,
                "ack_timeout_s": self.settings.ack_timeout_s,
                "max_resend_interval_s": self.settings.max_resend_interval_s,
            },
            "outbox": {"path": str(self.outbox_path)},
            "health": {"interval_s": 2.0, "metrics_port": 0, "disk_path": str(directory)},
            "remote": {
                "state_dir": str(directory / "state"),
                "models_dir": str(directory / "models"),
            },
            "settings": {
                "heartbeat_s": 2.0,
                "report_interval_s": self.settings.report_interval_s,
            },
            "sensors": sensors if produce else [],
        }

    def start(self, *, produce: bool = True) -> None:
        """Start the agent; without ``produce`` it only sends what its outbox holds."""
        path = self.directory / "agent.yaml"
        path.write_text(yaml.safe_dump(self._config(produce)))
        password = (self.directory / "secrets" / "mqtt-password").read_text()
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "FIELDPROOF_TEST_MQTT_PASSWORD": password,
            "OMP_NUM_THREADS": "1",
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "fieldproof", "agent", "run", "--config", str(path)],
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def allocated(self) -> int:
        return outbox_allocated(self.outbox_path) if self.outbox_path.exists() else 0


class LoadGenerator:
    """A device that signs reports at a fixed rate into its outbox and sends them over
    the agent's link (end-to-end acknowledgement, resends) from this process."""

    def __init__(
        self, bundle: DeviceBundle, settings: NetworkSettings, link: Mapping[str, Any]
    ) -> None:
        directory = bundle.directory
        passphrase = (directory / "secrets" / "key-passphrase").read_bytes()
        self.key: DeviceKey = load_key(directory / "device.key", passphrase)
        self.device_id = bytes(self.key.device_id)
        self.rate = settings.load_per_s
        config = parse_config(
            LinkConfig,
            {
                **link,
                "username": bundle.identity.device_id,
                "password": (directory / "secrets" / "mqtt-password").read_text(),
                "reconnect_initial_s": 0.1,
                "reconnect_max_s": 1.0,
                "ack_timeout_s": settings.ack_timeout_s,
                "max_resend_interval_s": settings.max_resend_interval_s,
            },
        )
        self.outbox = Outbox(OutboxConfig(path=directory / "load-outbox.sqlite"))
        topics = DeviceTopics.for_device_id(self.key.device_id)
        self.link = ReportLink(config, self.outbox, topics, signer=self.key)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="load", daemon=True)

    def _report(self, seq: int) -> bytes:
        now = int(time.time())
        records = (Record("temperature", value=15.0 + seq % 10), Record("humidity", value=50.0))
        return sign_report(Report(self.key.device_id, seq, now - 1, now, records), self.key)

    def _produce(self) -> None:
        period = 1.0 / self.rate
        due = time.monotonic()
        while not self._stop.is_set():
            self.outbox.append(self._report)
            self.link.notify()
            due += period
            self._stop.wait(max(0.0, due - time.monotonic()))

    def start(self) -> None:
        self.link.start()
        self._thread.start()

    def stop_producing(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def drained(self) -> bool:
        return self.outbox.stats().depth == 0

    def close(self) -> None:
        self.stop_producing()
        self.link.stop()
        self.outbox.close()

    def allocated(self) -> int:
        return self.outbox.stats().next_seq - 1


@dataclass
class FaultNetwork(Generic[B]):
    """The broker, aggregators, agents and load generator of one fault case."""

    folder: Path
    settings: NetworkSettings
    broker: B
    aggregators: list[AggregatorProcess]
    agents: list[AgentProcess]
    load: LoadGenerator
    rogue: DeviceBundle
    service_passwords: dict[str, str]
    ledger: SqlLedger = field(init=False)

    def __post_init__(self) -> None:
        self.ledger = open_ledger(self.ledger_url, migrate=False)

    @property
    def ledger_url(self) -> str:
        return self.settings.ledger_url or f"sqlite:///{self.folder}/ledger.db"

    def devices(self) -> Iterator[tuple[bytes, Callable[[], int]]]:
        for agent in self.agents:
            yield agent.device_id, agent.allocated
        yield self.load.device_id, self.load.allocated

    def allocated(self) -> dict[bytes, int]:
        return {device: count() for device, count in self.devices()}

    def holds(self, allocated: dict[bytes, int]) -> bool:
        """The ledger holds every seq up to each device's count in ``allocated``."""
        return all(
            count == 0 or contiguous(self.ledger, device) >= count
            for device, count in allocated.items()
        )

    def recovery(self, timeout: float = 120.0) -> float:
        """Seconds until the ledger holds everything allocated so far."""
        snapshot = self.allocated()
        return wait_for(lambda: self.holds(snapshot), timeout, "the ledger to catch up")

    def drain(self, timeout: float = 120.0) -> None:
        """Stop producing and send what waits: agents restart without sensors, the load
        generator stops its clock; then wait until every outbox is empty."""
        self.load.stop_producing()
        for agent in self.agents:
            agent.stop()
        for agent in self.agents:
            agent.start(produce=False)
        final = self.allocated()
        try:
            wait_for(lambda: self.holds(final) and self.load.drained(), timeout, "every outbox")
        except AssertionError as exc:
            state = {
                "0x" + device.hex()[:8]: (count, contiguous(self.ledger, device))
                for device, count in final.items()
            }
            raise AssertionError(
                f"{exc}; (allocated, stored through) by device: {state}; "
                f"load generator {self.load.link.pump_stats()}"
            ) from exc

    def tally(self) -> dict[bytes, Tally]:
        out = {}
        for device, count in self.allocated().items():
            seqs = ledger_seqs(self.ledger, device)
            distinct = set(seqs)
            expected = set(range(1, count + 1))
            out[device] = Tally(
                allocated=count,
                stored=len(distinct & expected),
                lost=len(expected - distinct),
                duplicated=len(seqs) - len(distinct),
            )
        return out

    def close(self) -> None:
        self.load.close()
        for agent in self.agents:
            agent.stop()
        for aggregator in self.aggregators:
            aggregator.stop()
        self.broker.stop()
        self.ledger.close()


def aggregator_config(
    network_folder: Path,
    ingest: Mapping[str, Mapping[str, Any]],
    settings: NetworkSettings,
    client_id: str,
    ledger_url: str,
) -> dict[str, Any]:
    return {
        **ingest,
        "roles": ["ingest"],
        "mqtt": {
            **ingest.get("mqtt", {}),
            "client_id": client_id,
            "username": "aggregator",
            "password": "${env:FIELDPROOF_TEST_AGGREGATOR_PASSWORD}",
            "session_expiry_s": settings.session_expiry_s,
        },
        "ingest": {
            "batch_size": 200,
            "batch_ms": 20,
            "verify_workers": settings.verify_workers,
        },
        "ledger": {"url": ledger_url},
        "series": {"url": f"sqlite:///{network_folder}/series-{client_id}.db"},
        "registry": {
            "mode": "allowlist",
            "allowlist": {"path": str(network_folder / "fleet" / "aggregator" / ALLOWLIST_NAME)},
        },
        "metrics": {"enabled": False},
    }


def start_network(
    folder: Path, settings: NetworkSettings, aggregator_ids: Sequence[str] = ("fp-aggregator-a",)
) -> FaultNetwork[ProductionBroker]:
    """:func:`start_network_on` the shipped Mosquitto."""
    return start_network_on(folder, settings, shipped_mosquitto, aggregator_ids)


def start_network_on(
    folder: Path,
    settings: NetworkSettings,
    transport_factory: TransportFactory[B],
    aggregator_ids: Sequence[str] = ("fp-aggregator-a",),
) -> FaultNetwork[B]:
    """Provision a fleet, start its broker, the aggregators, the agents and the load
    generator; returns once the first reports of every device are in the ledger."""
    fleet = provision_fleet(settings.agents + 2, folder / "fleet", broker_hosts=("127.0.0.1",))
    transport = transport_factory(folder, fleet)
    broker = transport.broker
    passwords = json.loads((fleet.operator_dir / "service-passwords.json").read_text())
    ledger_url = settings.ledger_url or f"sqlite:///{folder}/ledger.db"
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "FIELDPROOF_TEST_AGGREGATOR_PASSWORD": passwords["aggregator"],
    }
    aggregators = [
        AggregatorProcess(
            folder,
            aggregator_config(folder, transport.ingest, settings, client_id, ledger_url),
            env,
        )
        for client_id in aggregator_ids
    ]
    bundles = list(fleet.devices)
    agents = [
        AgentProcess(bundle, settings, transport.link) for bundle in bundles[: settings.agents]
    ]
    load = LoadGenerator(bundles[settings.agents], settings, transport.link)
    try:
        for aggregator in aggregators:
            aggregator.start()
        # The aggregators migrate the ledger; wait for one to have done it before opening it.
        wait_for(lambda: _ledger_ready(ledger_url), 60, "the ledger schema")
    except BaseException:
        for aggregator in aggregators:
            aggregator.kill()
        load.close()
        broker.stop()
        raise
    network = FaultNetwork(
        folder, settings, broker, aggregators, agents, load, bundles[-1], passwords
    )
    try:
        for agent in agents:
            agent.start()
        load.start()
        wait_for(
            lambda: all(count > 0 for count in network.allocated().values()), 60, "first reports"
        )
        network.recovery(90)
    except BaseException:
        network.close()  # nothing of a failed start may outlive it
        raise
    return network


def _ledger_ready(url: str) -> bool:
    try:
        ledger = open_ledger(url, migrate=False)
    except Exception:
        return False
    try:
        ledger.count_reports()
        return True
    except Exception:
        return False
    finally:
        ledger.close()
