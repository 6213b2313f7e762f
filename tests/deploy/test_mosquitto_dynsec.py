"""The shipped broker config with a provisioned fleet: no device can join the aggregators'
shared subscription, take a client id that is not its own, or read another's topics."""

from __future__ import annotations

import json
import ssl
import stat
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.provisioning.fleet import DYNSEC_NAME, FleetResult, provision_fleet
from tests.deploy.broker import ProductionBroker, production_broker

REPORTS = "$share/aggregators/fp/v1/+/report"


class Client:
    """A paho MQTT 5 client that records CONNACK, SUBACK, PUBACK and messages."""

    def __init__(
        self,
        port: int,
        username: str,
        password: str,
        client_id: str,
        tls_dir: Path | None = None,
    ) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.acks: dict[int, ReasonCode] = {}
        self.subacks: list[ReasonCode] = []
        self.connack: ReasonCode | None = None
        self.disconnected = threading.Event()
        self._ready = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if tls_dir is not None:
            context = ssl.create_default_context(cafile=str(tls_dir / "ca.crt"))
            context.load_cert_chain(tls_dir / "client.crt", tls_dir / "client.key")
            self.client.tls_set_context(context)
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = lambda *args: self.disconnected.set()
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(10)

    @property
    def ok(self) -> bool:
        return self.connack is not None and not self.connack.is_failure

    def _on_connect(self, c: Any, u: Any, flags: Any, rc: ReasonCode, props: Any) -> None:
        self.connack = rc
        self._ready.set()

    def _on_subscribe(self, c: Any, u: Any, mid: int, codes: list[ReasonCode], p: Any) -> None:
        self.subacks = codes
        self._subscribed.set()

    def _on_publish(self, c: Any, u: Any, mid: int, rc: ReasonCode, props: Any) -> None:
        self.acks[mid] = rc

    def _on_message(self, c: Any, u: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.append((message.topic, bytes(message.payload)))

    def subscribe(self, topic: str) -> ReasonCode:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10)
        return self.subacks[0]

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        mid = self.client.publish(topic, payload, qos=1).mid
        assert _wait(lambda: mid in self.acks, 10)
        return self.acks[mid]

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _wait(check: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


class Fleet:
    def __init__(self, tmp_path: Path, count: int) -> None:
        self.result: FleetResult = provision_fleet(
            count, tmp_path / "fleet", broker_hosts=("127.0.0.1",)
        )
        self.broker: ProductionBroker = production_broker(tmp_path, self.result.broker_dir)
        self.service = json.loads((self.result.operator_dir / "service-passwords.json").read_text())
        self.ids = [b.identity.device_id for b in self.result.devices]
        self.clients: list[Client] = []

    def device(self, index: int, client_id: str | None = None, *, tls: bool = False) -> Client:
        bundle = self.result.devices[index]
        device = bundle.identity.device_id
        password = (bundle.directory / "secrets" / "mqtt-password").read_text()
        port = self.broker.tls_port if tls else self.broker.plain_port
        client = Client(
            port, device, password, client_id or device, bundle.directory if tls else None
        )
        self.clients.append(client)
        return client

    def service_client(self, username: str, client_id: str) -> Client:
        client = Client(self.broker.plain_port, username, self.service[username], client_id)
        self.clients.append(client)
        return client

    def close(self) -> None:
        for client in self.clients:
            client.stop()
        self.broker.stop()


def test_rogue_device_cannot_join_the_shared_subscription(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, 2)
    try:
        aggregator = fleet.service_client("aggregator", "fp-aggregator-a")
        assert not aggregator.subscribe(REPORTS).is_failure
        rogue = fleet.device(0, tls=True)
        honest = fleet.device(1, tls=True)
        assert rogue.ok
        assert honest.ok
        # Refused at SUBACK: the broker never puts the rogue in the group.
        assert str(rogue.subscribe(REPORTS)) == "Not authorized"
        assert rogue.subscribe("fp/v1/+/report").is_failure
        assert rogue.subscribe("#").is_failure
        topic = f"fp/v1/{fleet.ids[1]}/report"
        for n in range(100):
            assert not honest.publish(topic, b"r%d" % n).is_failure
        assert _wait(lambda: len(aggregator.messages) >= 100, 10)
        time.sleep(0.3)
        assert sorted(aggregator.messages) == sorted((topic, b"r%d" % n) for n in range(100))
        assert rogue.messages == []
    finally:
        fleet.close()


def test_no_device_takes_the_aggregator_client_id(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, 1)
    try:
        aggregator = fleet.service_client("aggregator", "fp-aggregator-a")
        second = fleet.service_client("aggregator", "fp-aggregator-b")  # another process
        assert aggregator.ok
        assert second.ok
        assert not aggregator.subscribe(REPORTS).is_failure
        # Over TLS the broker replaces the client id with the username: connected, as itself.
        device = fleet.device(0, "fp-aggregator-a", tls=True)
        assert device.ok
        # On any listener a device id other than its own is refused.
        impostor = fleet.device(0, "fp-aggregator-a")
        assert impostor.connack is not None
        assert impostor.connack.is_failure
        time.sleep(0.3)
        assert not aggregator.disconnected.is_set()
        assert not second.disconnected.is_set()
        topic = f"fp/v1/{fleet.ids[0]}/report"
        assert not device.publish(topic, b"still here").is_failure
        assert _wait(lambda: (topic, b"still here") in aggregator.messages)
    finally:
        fleet.close()


def test_acks_and_config_only_for_their_device(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, 2)
    try:
        a, b = fleet.ids
        device_a, device_b = fleet.device(0), fleet.device(1)
        aggregator = fleet.service_client("aggregator", "fp-aggregator-a")
        operator = fleet.service_client("operator", "fp-operator")
        for kind in ("ack", "config", "report", "status", "health"):
            assert str(device_b.subscribe(f"fp/v1/{a}/{kind}")) == "Not authorized"
        assert device_b.subscribe("fp/v1/+/ack").is_failure
        assert not device_a.subscribe(f"fp/v1/{a}/ack").is_failure
        assert not device_a.subscribe(f"fp/v1/{a}/config").is_failure
        # The aggregator writes acks; a device cannot forge one, nor write its config.
        assert not aggregator.publish(f"fp/v1/{a}/ack", b"seq 7").is_failure
        assert device_b.publish(f"fp/v1/{a}/ack", b"forged").is_failure
        assert device_a.publish(f"fp/v1/{a}/ack", b"self").is_failure
        assert device_a.publish(f"fp/v1/{a}/config", b"self").is_failure
        assert not operator.publish(f"fp/v1/{a}/config", b"cfg").is_failure
        assert _wait(lambda: len(device_a.messages) >= 2)
        time.sleep(0.3)
        assert sorted(device_a.messages) == [
            (f"fp/v1/{a}/ack", b"seq 7"),
            (f"fp/v1/{a}/config", b"cfg"),
        ]
        assert device_b.messages == []
        # Publishing under another device's topics is refused too.
        assert device_a.publish(f"fp/v1/{b}/report", b"forged").is_failure
    finally:
        fleet.close()


def test_broker_files_are_not_world_readable(tmp_path: Path) -> None:
    result = provision_fleet(1, tmp_path / "fleet")
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in result.broker_dir.iterdir()}
    assert modes[DYNSEC_NAME] == 0o600
    assert modes["server.key"] == 0o600
    assert modes["passwd"] == 0o640
    assert modes["acl"] == 0o640
    for name in (DYNSEC_NAME, "server.key", "passwd", "acl"):
        assert modes[name] & stat.S_IRWXO == 0, name
    assert (result.operator_dir / "service-passwords.json").stat().st_mode & stat.S_IRWXO == 0


def test_only_aggregators_write_the_beacon_every_device_reads_it(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, 2)
    try:
        device_a, device_b = fleet.device(0), fleet.device(1)
        aggregator = fleet.service_client("aggregator", "fp-aggregator-a")
        operator = fleet.service_client("operator", "fp-operator")
        assert not device_a.subscribe("fp/v1/beacon").is_failure
        assert not device_b.subscribe("fp/v1/beacon").is_failure
        # No device, nor the operator, can set the block every device signs into reports.
        assert device_a.publish("fp/v1/beacon", b"forged").is_failure
        assert operator.publish("fp/v1/beacon", b"forged").is_failure
        assert not aggregator.publish("fp/v1/beacon", b"block").is_failure
        assert _wait(lambda: device_a.messages and device_b.messages)
        time.sleep(0.3)
        assert device_a.messages == device_b.messages == [("fp/v1/beacon", b"block")]
    finally:
        fleet.close()
