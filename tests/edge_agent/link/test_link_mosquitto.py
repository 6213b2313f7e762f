"""The report link against a real Mosquitto: outages, broker restarts, replay, order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.link import DeviceTopics, LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from fieldproof.wire import Record, Report, sign_report
from tests.edge_agent.link.collector import ReportCollector
from tests.services.mosquitto import MosquittoBroker, start_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    """A broker whose persistence works when tests run as root.

    As root, Mosquitto drops to the ``mosquitto`` user, which cannot write to the test's
    private temp dir, so sessions and queued messages would not survive a restart.
    ``user root`` is ignored when tests run unprivileged.
    """
    started = start_broker(tmp_path, "user root\n")
    yield started
    started.stop()


def _store(outbox: Outbox, key: DeviceKey) -> int:
    def build(seq: int) -> bytes:
        report = Report(
            key.device_id, seq, seq * 60, seq * 60 + 60, (Record("temperature", value=21.5),)
        )
        return sign_report(report, key)

    return outbox.append(build).seq


def _link(
    broker: MosquittoBroker, tmp_path: Path, key: DeviceKey, protocol: str
) -> tuple[Outbox, ReportLink]:
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    config = parse_config(
        LinkConfig,
        {
            "url": broker.url,
            "protocol": protocol,
            "reconnect_initial_s": 0.05,
            "reconnect_max_s": 0.3,
            # What a broker lost is sent again once its ack is this late.
            "ack_timeout_s": 2.0,
        },
    )
    return outbox, ReportLink(config, outbox, DeviceTopics.for_device_id(key.device_id), signer=key)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_outage_backlog_arrives_complete(
    broker: MosquittoBroker, tmp_path: Path, protocol: str
) -> None:
    key = DeviceKey.generate()
    collector = ReportCollector(broker.port).start()
    outbox, link = _link(broker, tmp_path, key, protocol)
    link.start()
    try:
        assert link.mqtt.wait_connected(10)
        for _ in range(50):
            _store(outbox, key)
            link.notify()
        assert collector.wait_for(50, 10)
        broker.stop()
        # Reports keep being made while the broker is gone (never blocked on the
        # network: see test_link_nonblocking.py).
        for _ in range(300):
            _store(outbox, key)
            link.notify()
        assert outbox.stats().depth >= 300
        broker.start()
        assert collector.wait_for(350, 30), f"got {len(collector.seqs())} of 350"
        assert link.wait_drained(10)
    finally:
        link.stop()
        collector.stop()
    assert collector.seqs() == set(range(1, 351))
    assert outbox.stats().depth == 0
    assert link.state().disconnects >= 1


def _restart_mid_stream(
    broker: MosquittoBroker, tmp_path: Path, *, kill: bool, total: int = 400
) -> tuple[ReportLink, Outbox, ReportCollector]:
    """Stream ``total`` reports while the broker is stopped and started twice."""
    key = DeviceKey.generate()
    collector = ReportCollector(broker.port).start()
    outbox, link = _link(broker, tmp_path, key, "5")
    link.start()
    done = threading.Event()

    def produce() -> None:
        for _ in range(total):
            _store(outbox, key)
            link.notify()
        done.set()

    producer = threading.Thread(target=produce)
    try:
        assert link.mqtt.wait_connected(10)
        producer.start()
        for _ in range(2):
            time.sleep(0.3)
            broker.stop(kill=kill)
            time.sleep(0.3)
            broker.start()
        producer.join(60)
        assert done.is_set()
        assert link.wait_drained(30), f"{link.pump_stats()} {outbox.stats()} {link.state()}"
        assert collector.wait_for(total, 30), f"got {len(collector.seqs())} of {total}"
    finally:
        link.stop()
        collector.stop()
    return link, outbox, collector


def test_broker_restarts_mid_stream(broker: MosquittoBroker, tmp_path: Path) -> None:
    link, outbox, collector = _restart_mid_stream(broker, tmp_path, kill=False)
    assert collector.seqs() == set(range(1, 401))
    # Deliveries may repeat across a restart (QoS 1); after dedupe each seq is there once.
    assert len(collector.received) == 400
    assert link.state().connects >= 2  # at least one reconnect
    assert outbox.stats().depth == 0


def test_broker_sigkilled_mid_stream(broker: MosquittoBroker, tmp_path: Path) -> None:
    """A SIGKILLed Mosquitto may lose messages it had already acknowledged (it answers
    PUBACK before its periodic save). The device keeps every report until the receiver's
    ack says it holds it, so what the broker lost is sent again: nothing is missing."""
    link, outbox, collector = _restart_mid_stream(broker, tmp_path, kill=True)
    stats = link.pump_stats()
    assert stats.acknowledged == 400
    assert stats.refused == 0
    assert outbox.stats().depth == 0
    assert collector.seqs() == set(range(1, 401))
    assert link.state().connects >= 2  # at least one reconnect
