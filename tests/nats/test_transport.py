"""The NATS transport on a real three-node cluster: a device's link (MQTT 3.1.1, a list of
node URLs) publishes to any node, the aggregator pulls from JetStream, commits, and the
device's ack comes back through the node it is connected to."""

from __future__ import annotations

from pathlib import Path

from aggregator.config import AggregatorConfig
from aggregator.ledger import open_ledger
from aggregator.service import Aggregator
from edge_agent.link.config import LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.config import parse_config
from fieldproof.protocol import DeviceTopics
from tests.aggregator.reports import Device, new_device
from tests.aggregator.runtime import config_dict, wait_for
from tests.services.nats import NatsCluster
from tests.services.ports import free_port


def aggregator_config(tmp: Path, cluster: NatsCluster, devices: list[Device]) -> AggregatorConfig:
    data = config_dict(tmp, 0, devices, client_id="agg-nats")
    data["mqtt"] = {
        "url": cluster.url,
        "client_id": "agg-nats",
        "username": "test",
        "password": "test",
    }
    data["nats"] = {"ack_wait_s": 3.0, "replicas": 3}
    data["metrics"] = {"enabled": False}
    return AggregatorConfig.model_validate(data)


def device_link(tmp: Path, device: Device, urls: list[str]) -> tuple[ReportLink, Outbox]:
    config = parse_config(
        LinkConfig,
        {
            "url": urls,
            "protocol": "3.1.1",
            "username": "test",
            "password": "test",
            "reconnect_initial_s": 0.1,
            "reconnect_max_s": 0.5,
            "ack_timeout_s": 2.0,
        },
    )
    outbox = Outbox(OutboxConfig(path=tmp / f"outbox-{device.hex}.sqlite"))
    topics = DeviceTopics.for_device_id(device.key.device_id)
    return ReportLink(config, outbox, topics, signer=device.key), outbox


def fill(outbox: Outbox, device: Device, count: int) -> None:
    for _ in range(count):
        outbox.append(device.signed)


def stored(config: AggregatorConfig, device: Device) -> int:
    ledger = open_ledger(config.ledger.url, migrate=False)
    try:
        return ledger.contiguous_through(device.device_id, 0, limit=100_000)
    finally:
        ledger.close()


def test_reports_committed_and_acked_through_the_cluster(
    nats_cluster: NatsCluster, tmp_path: Path
) -> None:
    device = new_device()
    config = aggregator_config(tmp_path, nats_cluster, [device])
    aggregator = Aggregator(config)
    aggregator.start(connect_timeout=30)
    # The device talks to node b only; the stream's leader may be any node.
    link, outbox = device_link(tmp_path, device, [nats_cluster.mqtt_urls[1]])
    try:
        fill(outbox, device, 200)
        link.start()
        # Drained means every report was deleted on a ledger ack, not on a PUBACK.
        assert link.wait_drained(60), link.pump_stats()
        assert stored(config, device) == 200
        assert link.pump_stats().acknowledged == 200
        assert aggregator.metrics.snapshot()["accepted"] == 200
    finally:
        link.stop()
        outbox.close()
        aggregator.stop()


def test_link_fails_over_to_the_next_node(nats_cluster: NatsCluster, tmp_path: Path) -> None:
    device = new_device()
    config = aggregator_config(tmp_path, nats_cluster, [device])
    aggregator = Aggregator(config)
    aggregator.start(connect_timeout=30)
    dead = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens there
    link, outbox = device_link(tmp_path, device, [dead, *nats_cluster.mqtt_urls])
    try:
        fill(outbox, device, 50)
        link.start()
        assert link.wait_drained(60), link.pump_stats()
        first = link.mqtt.broker
        assert first == nats_cluster.mqtt_urls[0].removeprefix("mqtt://")
        # Kill the node the device is connected to: it moves on and keeps delivering.
        nats_cluster.nodes[0].kill()
        wait_for(lambda: link.mqtt.broker != first and link.mqtt.connected, 30, "failover")
        fill(outbox, device, 50)
        link.notify()
        assert link.wait_drained(60), link.pump_stats()
        assert stored(config, device) == 100
        assert link.state().connects >= 2
    finally:
        link.stop()
        outbox.close()
        aggregator.stop()
