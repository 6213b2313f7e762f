"""The cluster's logins as rendered from a provisioned fleet: a device cannot read or
divert another device's reports or acks, and cannot reach JetStream, so it cannot join
or drain the aggregators' consumer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import paho.mqtt.client as mqtt
import pytest
from nats.errors import Error as NatsError
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.provisioning.fleet import FleetResult, provision_fleet
from edge_agent.provisioning.nats_auth import STREAM, write_fleet_auth
from tests.aggregator.runtime import wait_for
from tests.services.nats import NatsCluster, start_cluster


@dataclass(frozen=True)
class Login:
    device: str
    password: str


@dataclass
class Secured:
    cluster: NatsCluster
    fleet: FleetResult
    aggregator_password: str

    def login(self, index: int) -> Login:
        bundle = self.fleet.devices[index]
        password = (bundle.directory / "secrets" / "mqtt-password").read_text()
        return Login(bundle.identity.device_id, password)


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    fleet = provision_fleet(2, tmp_path / "fleet", broker_hosts=("127.0.0.1",))
    auth = write_fleet_auth(tmp_path / "fleet")
    assert auth.stat().st_mode & 0o077 == 0  # it holds passwords
    cluster = start_cluster(tmp_path, auth.read_text())
    passwords = json.loads((fleet.operator_dir / "service-passwords.json").read_text())
    yield Secured(cluster, fleet, passwords["aggregator"])
    cluster.stop()


class Device:
    """One MQTT 3.1.1 client of the cluster that records what it is granted and gets."""

    def __init__(self, login: Login, port: int, client_id: str | None = None) -> None:
        self.granted: list[list[Any]] = []
        self.received: list[str] = []
        self.connack: list[Any] = []
        self.disconnected = False
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or login.device,
            protocol=mqtt.MQTTv311,
            clean_session=False,
        )
        client.username_pw_set(login.device, login.password)
        client.on_connect = lambda c, u, flags, rc, p: self.connack.append(rc)
        client.on_subscribe = lambda c, u, mid, codes, p: self.granted.append(list(codes))
        client.on_message = lambda c, u, message: self.received.append(message.topic)
        client.on_disconnect = self._gone
        client.connect("127.0.0.1", port)
        client.loop_start()
        self.client = client
        wait_for(lambda: bool(self.connack), 10, "the CONNACK")

    def _gone(self, *args: Any) -> None:
        self.disconnected = True

    def subscribe(self, topic: str) -> bool:
        """True when the cluster granted the subscription."""
        before = len(self.granted)
        self.client.subscribe(topic, qos=1)
        wait_for(lambda: len(self.granted) > before, 10, f"the SUBACK for {topic}")
        return not any(code.is_failure for code in self.granted[-1])

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def stream_messages(url: list[str], password: str) -> int:
    nc = await nats.connect(url, user="aggregator", password=password)
    try:
        info = await nc.jetstream().stream_info(STREAM)
        return int(info.state.messages)
    finally:
        await nc.close()


async def ensure_stream(url: list[str], password: str) -> None:
    from aggregator.config import NatsConfig
    from aggregator.ingest.nats_consumer import consumer_config, stream_config

    nc = await nats.connect(url, user="aggregator", password=password)
    try:
        js = nc.jetstream()
        await js.add_stream(stream_config(NatsConfig.model_validate({"replicas": 3})))
        await js.add_consumer(STREAM, consumer_config(NatsConfig.model_validate({})))
    finally:
        await nc.close()


def test_a_device_cannot_read_another_devices_topics(secured: Secured) -> None:
    victim, thief = secured.login(0), secured.login(1)
    ports = [n.mqtt_port for n in secured.cluster.nodes]
    device = Device(victim, ports[0])
    other = Device(thief, ports[1])
    try:
        # Its own config and acks: granted.
        assert other.subscribe(f"fp/v1/{thief.device}/ack")
        assert other.subscribe(f"fp/v1/{thief.device}/config")
        # Another device's reports and acks, every report, everything, and the server's
        # own QoS 1 delivery subjects: refused.
        for topic in (
            f"fp/v1/{victim.device}/report",
            f"fp/v1/{victim.device}/ack",
            "fp/v1/+/report",
            "#",
            "$MQTT/sub/#",
            "$JS/API/#",
        ):
            assert not other.subscribe(topic), topic
        device.publish(f"fp/v1/{victim.device}/report", b"r1")
        assert other.received == []
    finally:
        device.close()
        other.close()


def test_a_device_cannot_publish_as_another(secured: Secured) -> None:
    url, password = secured.cluster.servers, secured.aggregator_password
    asyncio.run(ensure_stream(url, password))
    victim, forger = secured.login(0), secured.login(1)
    other = Device(forger, secured.cluster.nodes[2].mqtt_port)
    try:
        before = asyncio.run(stream_messages(url, password))
        other.publish(f"fp/v1/{victim.device}/report", b"forged")
        other.publish(f"fp/v1/{victim.device}/ack", b'{"through": 99}')
        other.publish(f"fp/v1/{forger.device}/report", b"own")
        wait_for(lambda: asyncio.run(stream_messages(url, password)) > before, 10, "own report")
        # Only its own report reached the stream.
        assert asyncio.run(stream_messages(url, password)) == before + 1
    finally:
        other.close()


def test_a_device_cannot_reach_jetstream_or_the_consumer(secured: Secured) -> None:
    """Devices may connect over MQTT only: the NATS protocol, which the JetStream API and
    the aggregators' pull consumer need, refuses their logins."""
    login = secured.login(0)

    async def try_nats() -> None:
        nc = await nats.connect(
            secured.cluster.servers,
            user=login.device,
            password=login.password,
            allow_reconnect=False,
            max_reconnect_attempts=0,
            connect_timeout=3,
        )
        await nc.close()

    with pytest.raises(NatsError, match="Authorization Violation"):
        asyncio.run(try_nats())
    # Over MQTT, a pull request on the consumer's API subject is not let through either:
    # the consumer hands nothing to it (the aggregator still gets the report).
    url, password = secured.cluster.servers, secured.aggregator_password
    asyncio.run(ensure_stream(url, password))
    device = Device(login, secured.cluster.nodes[0].mqtt_port)
    try:
        device.publish(f"fp/v1/{login.device}/report", b"r1")
        device.publish(f"$JS/API/CONSUMER/MSG/NEXT/{STREAM}/aggregators", b"1")
        wait_for(lambda: asyncio.run(stream_messages(url, password)) == 1, 10, "the report")

        async def pull() -> bytes:
            nc = await nats.connect(url, user="aggregator", password=password)
            try:
                sub = await nc.jetstream().pull_subscribe_bind("aggregators", STREAM)
                (message,) = await sub.fetch(1, timeout=5)
                return message.data
            finally:
                await nc.close()

        assert asyncio.run(pull()) == b"r1"
    finally:
        device.close()
