"""The MQTT connection in its own thread: connect, reconnect with backoff, never block callers.

With several broker URLs (the nodes of a cluster) a failed connect or a lost connection
moves on to the next URL, after the same backoff delay: a dead node costs one delay, and
a fleet whose node died spreads over the others instead of waiting for it.

Callers only enqueue: :meth:`MqttLink.publish` hands the message to paho, which writes
it from this thread's loop. A dead or slow broker therefore costs the caller nothing;
the outbox pump decides what to hand over and when.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge_agent.link.config import LinkConfig
from edge_agent.link.errors import LinkError
from fieldproof.backoff import Backoff
from fieldproof.errors import ConfigError
from fieldproof.protocol import DeviceTopics
from fieldproof.transport.mqtt import BrokerClient, ClientSpec, Will

log = logging.getLogger(__name__)

AckCallback = Callable[[int, bool], None]
MessageCallback = Callable[[str, bytes], None]
ConnectCallback = Callable[[], None]


@dataclass(frozen=True, slots=True)
class LinkState:
    """What the link knows about its broker connection."""

    connected: bool
    connects: int
    disconnects: int
    last_error: str | None


def _noop_ack(mid: int, ok: bool) -> None:
    return None


def _noop_message(topic: str, payload: bytes) -> None:
    return None


def _noop_connect() -> None:
    return None


class MqttLink:
    """One device's broker session (paho-mqtt 2, MQTT 5 or 3.1.1) run by a private thread.

    On connect it publishes a retained ``online`` status (the last will, retained too,
    says ``offline``) and subscribes to the retained config topic and the ack topic; a
    reconnect restores them. ``on_ack(mid, ok)`` fires on the broker's PUBACK for QoS 1
    messages; ``ok`` is false when an MQTT 5 broker refused the message (e.g. not authorised).
    """

    def __init__(
        self,
        config: LinkConfig,
        topics: DeviceTopics,
        *,
        online_payload: Callable[[], bytes],
        offline_payload: bytes,
        on_ack: AckCallback = _noop_ack,
        on_message: MessageCallback = _noop_message,
        on_connect: ConnectCallback = _noop_connect,
    ) -> None:
        self.config = config
        self.topics = topics
        self._online_payload = online_payload
        self._on_ack = on_ack
        self._on_message = on_message
        self._on_connect_cb = on_connect
        self._connected = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._connects = 0
        self._disconnects = 0
        self._last_error: str | None = None
        self._backoff = Backoff(config.reconnect_policy())
        self._addresses = config.addresses
        self._current = 0
        self._broker = self._build_client(offline_payload)
        self._client = self._broker.paho

    def _build_client(self, offline_payload: bytes) -> BrokerClient:
        cfg = self.config
        spec = ClientSpec(
            url=cfg.urls[0],
            client_id=cfg.client_id or self.topics.device,
            protocol=cfg.protocol,
            username=cfg.username,
            password=cfg.password,
            tls=cfg.tls,
            keepalive_s=cfg.keepalive_s,
            session_expiry_s=cfg.session_expiry_s,
            will=Will(self.topics.status, offline_payload, qos=1, retain=True),
            # paho's own window equals ours, so nothing waits inside paho unseen.
            max_in_flight=cfg.max_in_flight,
        )
        try:
            broker = BrokerClient(spec)
        except ConfigError as exc:
            raise LinkError(f"link -> {exc}") from exc
        client = broker.paho
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        client.on_publish = self._handle_publish
        client.on_message = self._handle_message
        return broker

    # -- public API -----------------------------------------------------------------

    def start(self) -> None:
        """Start the connection thread (returns at once; connecting happens there)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mqtt-link", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Disconnect cleanly; the broker then keeps the retained status we last sent."""
        self._stop.set()
        if self._connected.is_set():
            self._client.disconnect()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def broker(self) -> str:
        """host:port of the broker in use (or tried next)."""
        address = self._addresses[self._current]
        return f"{address.host}:{address.port}"

    @property
    def running(self) -> bool:
        """True while the connection thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def wait_connected(self, timeout: float) -> bool:
        return self._connected.wait(timeout)

    def state(self) -> LinkState:
        with self._lock:
            return LinkState(
                self._connected.is_set(), self._connects, self._disconnects, self._last_error
            )

    def subscribe(self, topic: str, qos: int = 1) -> None:
        """Subscribe to one more topic; call it from ``on_connect`` so that every
        reconnect restores it."""
        self._client.subscribe(topic, qos)

    def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> int:
        """Hand a message to the connection; returns its message id. Never blocks on I/O.

        QoS 0 messages are dropped while disconnected (heartbeats go stale anyway);
        QoS 1 messages wait in paho and go out, in order, once connected.
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return int(info.mid)

    # -- the thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            # The same client (session, queued messages) on whichever node is up.
            self._broker.address = self._addresses[self._current]
            try:
                self._broker.connect()
            except (OSError, ssl.SSLError) as exc:
                self._note_error(f"connect: {exc}")
            else:
                while not self._stop.is_set():
                    rc = self._client.loop(timeout=0.05)
                    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                        self._note_error(f"loop: {mqtt.error_string(rc)}")
                        break
                if self._stop.is_set():
                    # Let the DISCONNECT go out before the thread ends.
                    for _ in range(10):
                        if self._client.loop(timeout=0.01) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                            break
            self._mark_down()
            self._current = (self._current + 1) % len(self._addresses)
            if self._stop.wait(self._backoff.next_delay()):
                break
        self._mark_down()

    def _note_error(self, text: str) -> None:
        with self._lock:
            self._last_error = text
        log.info("mqtt link: %s", text)

    def _mark_down(self) -> None:
        if self._connected.is_set():
            self._connected.clear()
            with self._lock:
                self._disconnects += 1

    # -- paho callbacks (run on the link thread) ---------------------------------------

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            # A refused CONNECT is not a connection (a Frigate bug we do not copy).
            self._note_error(f"broker refused connection: {reason_code}")
            return
        self._backoff.reset()
        client.subscribe([(self.topics.config, 1), (self.topics.ack, 1)])
        client.publish(self.topics.status, self._online_payload(), qos=1, retain=True)
        with self._lock:
            self._connects += 1
        self._connected.set()
        self._on_connect_cb()

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: Any,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._mark_down()

    def _handle_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self._on_ack(mid, not reason_code.is_failure)

    def _handle_message(
        self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage
    ) -> None:
        self._on_message(message.topic, bytes(message.payload))
