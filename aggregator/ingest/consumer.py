"""The MQTT side of ingest: paho-mqtt 2 in its own thread, feeding a bounded queue.

MQTT 5 (default): reports and health through the shared subscription
``$share/<group>/fp/v1/+/report`` (so N processes split the load), status topics
plainly (retained state is not delivered to shared subscriptions). MQTT 3.1.1 (brokers
without v5, such as the in-process demo broker): plain subscriptions, one process.

``manual_ack=True``: nothing is acknowledged on receipt. The writer calls :meth:`ack`
once the batch holding a message is committed, so a crash before the commit makes the
broker redeliver it. A full queue blocks the network thread, which stops reading the
socket: backpressure reaches the broker (which holds at most ``receive_maximum``
unacknowledged messages for us) instead of our memory growing.
"""

from __future__ import annotations

import logging
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from aggregator.config import MqttConfig
from aggregator.errors import AggregatorValueError
from fieldproof.protocol import TopicKind, device_filter, shared_filter

log = logging.getLogger(__name__)

REPORT_FILTER = device_filter(TopicKind.REPORT)
HEALTH_FILTER = device_filter(TopicKind.HEALTH)
STATUS_FILTER = device_filter(TopicKind.STATUS)


class Message(NamedTuple):
    """One received message; ``generation`` names the connection that delivered it.

    A named tuple: one is made per message received, and it is the cheapest record."""

    topic: str
    payload: bytes
    mid: int
    qos: int
    received_at: float
    generation: int
    verdict: Any = None


def default_client_id() -> str:
    """Stable across restarts, so the broker's session (and the reports it queued for
    us while we were down) is picked up again. Several processes on one host must each
    set ``mqtt.client_id``."""
    return f"fp-aggregator-{socket.gethostname()}"


def subscriptions(config: MqttConfig) -> list[tuple[str, int]]:
    """The (filter, qos) pairs the aggregator subscribes to."""
    if config.protocol == "5":
        return [
            (shared_filter(config.group, TopicKind.REPORT), 1),
            (shared_filter(config.group, TopicKind.HEALTH), 1),
            (STATUS_FILTER, 1),
        ]
    return [(REPORT_FILTER, 1), (HEALTH_FILTER, 1), (STATUS_FILTER, 1)]


class MqttConsumer:
    """Receives into ``sink`` (bounded); :meth:`ack` after commit."""

    def __init__(
        self,
        config: MqttConfig,
        sink: queue.Queue[Message],
        *,
        prepare: Callable[[str, bytes, float], Any] | None = None,
    ) -> None:
        self.config = config
        self.sink = sink
        self.prepare = prepare
        self.v5 = config.protocol == "5"
        self.client_id = config.client_id or default_client_id()
        parts = urlsplit(config.url)
        if not parts.hostname:
            raise AggregatorValueError(f"mqtt -> url: no host in {config.url!r}")
        self.host = parts.hostname
        self.port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._generation = 0
        self._client = self._build(parts.scheme == "mqtts")

    def _build(self, tls: bool) -> mqtt.Client:
        cfg = self.config
        if self.v5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=True,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=self.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
                manual_ack=True,
            )
        if cfg.username is not None:
            client.username_pw_set(cfg.username, cfg.password)
        if tls:
            context = ssl.create_default_context(
                cafile=str(cfg.ca_file) if cfg.ca_file is not None else None
            )
            client.tls_set_context(context)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        return client

    # -- paho callbacks (network thread) ----------------------------------------------

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        if reason.is_failure:
            # Never mark a refused connection as connected.
            log.error("broker refused the connection: %s", reason)
            return
        self._generation += 1
        # Subscribing on every connect restores the subscriptions after a reconnect.
        client.subscribe(subscriptions(self.config))
        self.connected.set()

    def _on_disconnect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, properties: Any
    ) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        topic, payload, received_at = message.topic, bytes(message.payload), time.time()
        # Verifying here, in the thread that already holds the interpreter lock for the
        # receive, spares a lock hand-over per message between this thread and the
        # writer, which then only commits.
        verdict = self.prepare(topic, payload, received_at) if self.prepare else None
        item = Message(
            topic, payload, message.mid, message.qos, received_at, self._generation, verdict
        )
        try:
            self.sink.put_nowait(item)
            return
        except queue.Full:
            pass
        while not self._stopping.is_set():  # backpressure: the broker waits with us
            try:
                self.sink.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    # -- control ----------------------------------------------------------------------

    def start(self) -> None:
        properties = None
        if self.v5:
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.SessionExpiryInterval = self.config.session_expiry_s
            properties.ReceiveMaximum = self.config.receive_maximum
        self._client.connect_async(
            self.host,
            self.port,
            keepalive=self.config.keepalive_s,
            clean_start=False if self.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=properties,
        )
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def ack(self, messages: Sequence[Message]) -> None:
        """Acknowledge committed messages; those of an older connection the broker will
        redeliver anyway (their packet ids mean nothing on the new connection)."""
        generation = self._generation
        for message in messages:
            if message.qos > 0 and message.generation == generation:
                self._client.ack(message.mid, message.qos)

    def stop(self) -> None:
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
