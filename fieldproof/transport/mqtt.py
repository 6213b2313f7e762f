"""The one place a paho-mqtt client is built and connected, for agent and aggregator alike.

Both keep a persistent session (MQTT 5: ``clean_start=False`` with a session expiry;
3.1.1: ``clean_session=False``) so the broker holds QoS 1 messages and subscriptions
while a client is away. TLS verifies the broker's certificate and host name, always.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from fieldproof.errors import ConfigError
from fieldproof.transport.config import BrokerAddress, MqttProtocol, TlsConfig, parse_broker_url


@dataclass(frozen=True, slots=True)
class Will:
    """The message the broker publishes for us when the connection dies uncleanly."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


@dataclass(frozen=True, slots=True)
class ClientSpec:
    """Everything one broker connection needs; ``url`` is ``mqtt://`` or ``mqtts://``.

    ``receive_maximum`` (MQTT 5) caps the unacknowledged messages the broker sends us;
    ``max_in_flight`` caps ours towards it. ``manual_ack`` leaves acknowledging received
    messages to the caller (``client.ack``).
    """

    url: str
    client_id: str
    protocol: MqttProtocol = "5"
    username: str | None = None
    password: str | None = None
    tls: TlsConfig | None = None
    keepalive_s: int = 30
    session_expiry_s: int = 3600
    receive_maximum: int | None = None
    max_in_flight: int | None = None
    will: Will | None = None
    manual_ack: bool = False


def tls_context(tls: TlsConfig | None) -> ssl.SSLContext:
    """A verifying client context: the configured CA (else the system's) and client cert."""
    tls = tls or TlsConfig()
    try:
        context = ssl.create_default_context(
            cafile=str(tls.ca_file) if tls.ca_file is not None else None
        )
        if tls.cert_file is not None and tls.key_file is not None:
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"tls: cannot load TLS files: {exc}") from exc
    return context


class BrokerClient:
    """A paho client (``.paho``) built from a :class:`ClientSpec`, and its connect call.

    Callers set their callbacks on ``.paho`` and run its loop as they need (their own
    thread, or ``loop_start``); :meth:`connect` / :meth:`connect_async` apply the
    session settings of the spec.
    """

    def __init__(self, spec: ClientSpec) -> None:
        try:
            self.address: BrokerAddress = parse_broker_url(spec.url)
        except ValueError as exc:
            raise ConfigError(f"url: {exc}") from exc
        self.spec = spec
        self.v5 = spec.protocol == "5"
        if self.v5:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=spec.client_id,
                protocol=mqtt.MQTTv5,
                manual_ack=spec.manual_ack,
            )
        else:
            client = mqtt.Client(
                CallbackAPIVersion.VERSION2,
                client_id=spec.client_id,
                protocol=mqtt.MQTTv311,
                clean_session=False,
                manual_ack=spec.manual_ack,
            )
        if spec.username is not None:
            client.username_pw_set(spec.username, spec.password)
        if self.address.tls:
            client.tls_set_context(tls_context(spec.tls))
        if spec.will is not None:
            will = spec.will
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        if spec.max_in_flight is not None:
            client.max_inflight_messages_set(spec.max_in_flight)
        self.paho = client

    def _properties(self) -> Properties | None:
        if not self.v5:
            return None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.spec.session_expiry_s
        if self.spec.receive_maximum is not None:
            props.ReceiveMaximum = self.spec.receive_maximum
        return props

    def connect(self) -> None:
        """Connect now (blocking on the TCP and TLS handshake); OSError when unreachable."""
        self.paho.connect(
            self.address.host,
            self.address.port,
            self.spec.keepalive_s,
            clean_start=False if self.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=self._properties(),
        )

    def connect_async(self) -> None:
        """Connect from the loop thread (``loop_start``), which also reconnects."""
        self.paho.connect_async(
            self.address.host,
            self.address.port,
            self.spec.keepalive_s,
            clean_start=False if self.v5 else mqtt.MQTT_CLEAN_START_FIRST_ONLY,
            properties=self._properties(),
        )
