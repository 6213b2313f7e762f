"""A QoS 1 subscriber with a persistent session that survives broker restarts."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fieldproof.identity import device_id_hex
from fieldproof.protocol import DeviceTopics, build_acks, encode_ack
from fieldproof.wire import decode_report


class ReportCollector:
    """Collects ``(device, seq)`` of every report delivered on ``fp/v1/+/report``.

    With ``ack`` (the default) it also stands in for the aggregator's end-to-end acks,
    so agents delete what it received.
    """

    def __init__(self, port: int, topic: str = "fp/v1/+/report", *, ack: bool = True) -> None:
        self.port = port
        self.topic = topic
        self.ack = ack
        self.received: Counter[tuple[bytes, int]] = Counter()
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:8]}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(0.05, 0.5)  # type: ignore[arg-type]
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client: mqtt.Client, *args: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(self, *args: Any) -> None:
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append((message.topic, bytes(message.payload), message.retain))
            if message.topic.endswith("/report"):
                signed = decode_report(bytes(message.payload))
                device, seq = signed.report.device_id, signed.report.seq
                self.received[(device, seq)] += 1
                if self.ack:
                    self._ack(client, device, seq)

    def _ack(self, client: mqtt.Client, device: bytes, seq: int) -> None:
        held = {s for d, s in self.received if d == device}
        through = 0
        while through + 1 in held:
            through += 1
        topic = DeviceTopics(device_id_hex(device)).ack
        for ack in build_acks(through, [seq]):
            client.publish(topic, encode_ack(ack), qos=1)

    def start(self) -> ReportCollector:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self._subscribed.wait(10), "collector did not subscribe"
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def seqs(self) -> set[int]:
        with self._lock:
            return {seq for _, seq in self.received}

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.seqs()) >= count:
                return True
            time.sleep(0.05)
        return False
