"""End-to-end delivery: a report leaves the device's outbox only once the ledger holds it.

A broker's PUBACK proves nothing once the broker loses its store: here the aggregator
is stopped, the broker takes the device's reports, then dies by SIGKILL with its store
wiped. The reports stay in the outbox, are sent again after the ack timeout, and every
seq the device allocated ends up in the ledger exactly once.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from aggregator.ledger import open_ledger
from aggregator.service import Aggregator
from edge_agent.link.config import LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.config import parse_config
from fieldproof.protocol import DeviceTopics
from tests.aggregator.reports import Device, new_device
from tests.aggregator.runtime import make_config, wait_for
from tests.services.mosquitto import MosquittoBroker


def _link(tmp_path: Path, broker: MosquittoBroker, device: Device) -> tuple[ReportLink, Outbox]:
    config = parse_config(
        LinkConfig,
        {"url": broker.url, "reconnect_initial_s": 0.05, "reconnect_max_s": 0.5,
         "ack_timeout_s": 1.0},
    )  # fmt: skip
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    topics = DeviceTopics.for_device_id(device.device_id)
    return ReportLink(config, outbox, topics, signer=device.key), outbox


def _produce(link: ReportLink, outbox: Outbox, device: Device, count: int) -> None:
    for _ in range(count):
        outbox.append(device.signed)
        link.notify()


def test_reports_the_broker_lost_are_delivered_once(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    device = new_device()
    config = make_config(tmp_path, mosquitto.port, [device])
    ledger = open_ledger(config.ledger.url)
    aggregator = Aggregator(config)
    aggregator.start()
    link, outbox = _link(tmp_path, mosquitto, device)
    link.start()
    try:
        assert link.mqtt.wait_connected(10)
        _produce(link, outbox, device, 10)
        assert link.wait_drained(15), (link.pump_stats(), outbox.stats())

        aggregator.stop()
        _produce(link, outbox, device, 10)
        # The broker took them (PUBACK), yet they stay stored: nothing committed them.
        wait_for(lambda: link.pump_stats().awaiting_ack == 10, 10, "PUBACKs")
        assert outbox.stats().depth == 10

        mosquitto.stop(kill=True)
        shutil.rmtree(mosquitto.directory)
        mosquitto.directory.mkdir()
        mosquitto.start()
        _produce(link, outbox, device, 5)

        aggregator = Aggregator(config)
        aggregator.start()
        assert link.wait_drained(20), (link.pump_stats(), outbox.stats())
        assert link.pump_stats().resent >= 10
    finally:
        link.stop()
        aggregator.stop()
    heads = ledger.device_reports(device.device_id, limit=100)
    assert sorted(head.seq for head in heads) == list(range(1, 26))
    assert ledger.count_reports() == 25
    assert outbox.stats().dropped == 0
