"""The shipped ACL on a real Mosquitto: a device cannot publish or read under another's topics."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.provisioning.fleet import provision_fleet
from tests.deploy.broker import secured_broker


class Client:
    def __init__(self, port: int, username: str, password: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.acks: dict[int, ReasonCode] = {}
        self.connack: ReasonCode | None = None
        self._ready = threading.Event()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=username[:23] + "-t", protocol=mqtt.MQTTv5
        )
        self.client.username_pw_set(username, password)
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = lambda *args: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_connect(
        self, client: Any, userdata: Any, flags: Any, rc: ReasonCode, props: Any
    ) -> None:
        self.connack = rc
        self._ready.set()

    def _on_publish(self, client: Any, userdata: Any, mid: int, rc: ReasonCode, props: Any) -> None:
        self.acks[mid] = rc

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.append((message.topic, bytes(message.payload)))

    def subscribe(self, topic: str) -> None:
        self._subscribed.clear()
        self.client.subscribe(topic, qos=1)
        assert self._subscribed.wait(10)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> ReasonCode:
        mid = self.client.publish(topic, payload, qos=1, retain=retain).mid
        deadline = time.monotonic() + 10
        while mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
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


def test_device_confined_to_its_own_topics(tmp_path: Path) -> None:
    fleet = provision_fleet(2, tmp_path / "fleet")
    broker = secured_broker(tmp_path, fleet.broker_dir / "passwd")
    passwords = {
        b.identity.device_id: (b.directory / "secrets" / "mqtt-password").read_text()
        for b in fleet.devices
    }
    service = json.loads((fleet.operator_dir / "service-passwords.json").read_text())
    a, b = (bundle.identity.device_id for bundle in fleet.devices)
    clients: list[Client] = []
    try:
        device_a = Client(broker.port, a, passwords[a])
        device_b = Client(broker.port, b, passwords[b])
        aggregator = Client(broker.port, "aggregator", service["aggregator"])
        operator = Client(broker.port, "operator", service["operator"])
        clients = [device_a, device_b, aggregator, operator]
        assert all(c.connack is not None and not c.connack.is_failure for c in clients)

        aggregator.subscribe("fp/v1/+/report")
        device_a.subscribe(f"fp/v1/{b}/#")  # granted, but nothing of B's is delivered
        device_b.subscribe(f"fp/v1/{b}/config")

        # A may not publish as B: an MQTT 5 PUBACK says so, and nothing is delivered.
        refused = device_a.publish(f"fp/v1/{b}/report", b"forged")
        assert refused.is_failure
        assert str(refused) == "Not authorized"
        # A's own topic works (positive control).
        assert not device_a.publish(f"fp/v1/{a}/report", b"mine").is_failure
        assert _wait(lambda: (f"fp/v1/{a}/report", b"mine") in aggregator.messages)

        # B's own traffic and the operator's config for B never reach A.
        assert not device_b.publish(f"fp/v1/{b}/report", b"b-report").is_failure
        assert not device_b.publish(
            f"fp/v1/{b}/status", b'{"state": "online"}', retain=True
        ).is_failure
        assert not operator.publish(f"fp/v1/{b}/config", b"cfg", retain=True).is_failure
        assert _wait(lambda: (f"fp/v1/{b}/report", b"b-report") in aggregator.messages)
        assert _wait(lambda: (f"fp/v1/{b}/config", b"cfg") in device_b.messages)
        time.sleep(0.3)
        assert device_a.messages == []
        assert (f"fp/v1/{b}/report", b"forged") not in aggregator.messages

        # A device cannot overwrite even its own config (operator-only).
        assert device_b.publish(f"fp/v1/{b}/config", b"self", retain=True).is_failure
        # Only the aggregator writes the retained beacon; every device reads it.
        assert device_a.publish("fp/v1/beacon", b"forged", retain=True).is_failure
        assert operator.publish("fp/v1/beacon", b"forged", retain=True).is_failure
        assert not aggregator.publish("fp/v1/beacon", b"block", retain=True).is_failure
        device_b.subscribe("fp/v1/beacon")
        assert _wait(lambda: ("fp/v1/beacon", b"block") in device_b.messages)
        assert ("fp/v1/beacon", b"forged") not in device_b.messages
        # And a wrong password is refused.
        intruder = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="intruder", protocol=mqtt.MQTTv5
        )
        intruder.username_pw_set(a, "wrong")
        codes: list[ReasonCode] = []
        intruder.on_connect = lambda c, u, f, rc, p: codes.append(rc)
        intruder.connect("127.0.0.1", broker.port)
        intruder.loop_start()
        assert _wait(lambda: bool(codes))
        intruder.loop_stop()
        assert codes[0].is_failure
    finally:
        for client in clients:
            client.stop()
        broker.stop()
