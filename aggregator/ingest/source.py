"""Where ingest reads from, chosen by ``mqtt.url``: an MQTT broker (``mqtt://``,
``mqtts://``) or a NATS JetStream cluster (``nats://host:port[,host:port…]``)."""

from __future__ import annotations

import queue
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from aggregator.config import AggregatorConfig, is_nats_url
from aggregator.ingest.consumer import Message, MqttConsumer


class IngestSource(Protocol):
    """What the writer and the service need from a consumer."""

    def start(self) -> None: ...

    def wait_connected(self, timeout: float) -> bool: ...

    def ack(self, messages: Sequence[Message]) -> None: ...

    def publish(self, topic: str, payload: bytes) -> None: ...

    def stop(self) -> None: ...


def open_source(
    config: AggregatorConfig,
    sink: queue.Queue[Message],
    *,
    prepare: Callable[[str, bytes, float], Any] | None = None,
) -> IngestSource:
    if is_nats_url(config.mqtt.url):
        # Imported here: an MQTT deployment needs no NATS client installed.
        from aggregator.ingest.nats_consumer import NatsConsumer

        return NatsConsumer(config.mqtt, config.nats, sink, prepare=prepare)
    return MqttConsumer(config.mqtt, sink, prepare=prepare)
