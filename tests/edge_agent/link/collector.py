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

from fieldproof.wire import decode_report


class ReportCollector:
    """Collects ``(device, seq)`` of every report delivered on ``fp/v1/+/report``."""

    def __init__(self, port: int, topic: str = "fp/v1/+/report") -> None:
        self.port = port
        self.topic = topic
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
                self.received[(signed.report.device_id, signed.report.seq)] += 1

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
