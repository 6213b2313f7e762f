"""A device's report link: the MQTT connection and the outbox pump wired together."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from typing import Any

from edge_agent.link.client import LinkState, MessageCallback, MqttLink
from edge_agent.link.config import LinkConfig
from edge_agent.link.pump import OutboxPump, PumpStats
from edge_agent.outbox import Outbox
from fieldproof.identity import Signer
from fieldproof.protocol import DeviceTopics
from fieldproof.wire import sign_document


def _ignore(topic: str, payload: bytes) -> None:
    return None


def _online() -> dict[str, Any]:
    return {"state": "online"}


class ReportLink:
    """Publishes the outbox on ``fp/v1/<device>/report`` and carries status and health.

    ``status`` returns the retained status document (``{"state": "online", …}``); it is
    published on every connect and by :meth:`publish_status`. The last will is
    ``{"state": "offline"}``, retained. Status, health and the will travel as signed
    documents (COSE_Sign1 by ``signer``, the device key, around the JSON); every status
    carries ``at`` (when it was signed) and this link's ``session``, so an aggregator can
    tell a replayed copy from a fresh one.
    """

    def __init__(
        self,
        config: LinkConfig,
        outbox: Outbox,
        topics: DeviceTopics,
        *,
        signer: Signer,
        status: Callable[[], dict[str, Any]] = _online,
        on_message: MessageCallback = _ignore,
        subscribe: tuple[str, ...] = (),
    ) -> None:
        self.topics = topics
        self._signer = signer
        self.session = secrets.token_hex(8)
        self._status = status
        self._forward = on_message
        # Topics beyond the device's own (the beacon), handed to ``on_message``.
        self._extra = subscribe
        self.mqtt = MqttLink(
            config,
            topics,
            online_payload=self._status_bytes,
            # The will is fixed at connect time, so it is signed once, here.
            offline_payload=self._offline_bytes(),
            on_ack=self._on_ack,
            on_message=self._on_message,
            on_connect=self._on_connect,
        )
        self.pump = OutboxPump(
            outbox,
            self.mqtt,
            topics.report,
            window=config.max_in_flight,
            ledger_acks=config.delete_on == "ledger",
            ack_timeout_s=config.ack_timeout_s,
            max_resend_interval_s=config.max_resend_interval_s,
            max_awaiting=config.max_awaiting_ack,
        )

    def _signed(self, document: dict[str, Any]) -> bytes:
        return sign_document(json.dumps(document, sort_keys=True).encode(), self._signer)

    def _stamped(self, document: dict[str, Any]) -> bytes:
        return self._signed({**document, "at": time.time(), "session": self.session})

    def _status_bytes(self) -> bytes:
        return self._stamped(self._status())

    def _offline_bytes(self) -> bytes:
        return self._stamped({"state": "offline"})

    def _on_ack(self, mid: int, ok: bool) -> None:
        self.pump.on_ack(mid, ok)

    def _on_message(self, topic: str, payload: bytes) -> None:
        if topic == self.topics.ack:
            self.pump.on_ledger_ack(payload)
        else:
            self._forward(topic, payload)

    def _on_connect(self) -> None:
        for topic in self._extra:
            self.mqtt.subscribe(topic)
        self.pump.on_connect()

    def start(self) -> None:
        self.pump.start()
        self.mqtt.start()

    def stop(self) -> None:
        # Stop the pump first so it makes no new hand-overs during the disconnect.
        self.pump.stop()
        if self.mqtt.connected:
            # A clean DISCONNECT suppresses the will, so say "offline" ourselves.
            self.mqtt.publish(self.topics.status, self._offline_bytes(), qos=1, retain=True)
        self.mqtt.stop()

    def notify(self) -> None:
        """A report was stored in the outbox."""
        self.pump.notify()

    def publish_status(self) -> None:
        """Re-publish the retained status (after a config or model change)."""
        self.mqtt.publish(self.topics.status, self._status_bytes(), qos=1, retain=True)

    def publish_health(self, document: dict[str, Any]) -> None:
        """One heartbeat (QoS 0: a stale heartbeat is worth nothing later)."""
        self.mqtt.publish(self.topics.health, self._signed(document), qos=0)

    @property
    def running(self) -> bool:
        """True while both the connection and the pump threads are alive."""
        return self.mqtt.running and self.pump.running

    def state(self) -> LinkState:
        return self.mqtt.state()

    def pump_stats(self) -> PumpStats:
        return self.pump.stats()

    def wait_drained(self, timeout: float) -> bool:
        return self.pump.wait_drained(timeout)
