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
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import paho.mqtt.client as mqtt

from aggregator.config import MqttConfig
from aggregator.errors import AggregatorValueError
from fieldproof.errors import ConfigError
from fieldproof.protocol import TopicKind, device_filter, shared_filter
from fieldproof.transport.mqtt import BrokerClient, ClientSpec

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
        spec = ClientSpec(
            url=config.url,
            client_id=self.client_id,
            protocol=config.protocol,
            username=config.username,
            password=config.password,
            tls=config.tls,
            keepalive_s=config.keepalive_s,
            session_expiry_s=config.session_expiry_s,
            receive_maximum=config.receive_maximum,
            manual_ack=True,
        )
        try:
            self._broker = BrokerClient(spec)
        except ConfigError as exc:
            raise AggregatorValueError(f"mqtt -> {exc}") from exc
        self.host = self._broker.address.host
        self.port = self._broker.address.port
        self.connected = threading.Event()
        self._stopping = threading.Event()
        self._generation = 0
        client = self._client = self._broker.paho
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message

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
        self._broker.connect_async()
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

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Send ``payload`` with QoS 1 (not retained unless asked); paho queues it while
        disconnected."""
        self._client.publish(topic, payload, qos=1, retain=retain)

    def stop(self) -> None:
        self._stopping.set()
        self._client.disconnect()
        self._client.loop_stop()
