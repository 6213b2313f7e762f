"""Config of the MQTT link: broker URLs, protocol, TLS and credentials, session, backoff."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from fieldproof.backoff import BackoffPolicy
from fieldproof.config import ConfigModel
from fieldproof.transport.config import (
    BrokerAddress,
    MqttProtocol,
    TlsConfig,
    check_tls_matches_url,
    parse_broker_url,
)

__all__ = ["LinkConfig", "TlsConfig"]

# Up to a fifth off each reconnect delay, so a fleet that lost its broker together
# does not come back in lockstep.
RECONNECT_JITTER = 0.2


class LinkConfig(ConfigModel):
    """How the agent reaches its broker."""

    url: str | tuple[str, ...] = Field(
        default="mqtt://127.0.0.1:1883",
        description="mqtt://host[:port] or mqtts://host[:port] (TLS), or a list of them (the "
        "nodes of a broker cluster): the link connects to one and, when it cannot, tries "
        "the next, waiting the reconnect backoff between tries.",
    )
    protocol: MqttProtocol = Field(
        default="5", description="MQTT 5, or 3.1.1 for brokers without it (amqtt)."
    )
    client_id: str | None = Field(
        default=None, description="Client id; default the device's 0x-hex id."
    )
    username: str | None = Field(default=None, description="Broker user (default: none).")
    password: str | None = Field(
        default=None, description="Broker password; use ${secret:NAME}, never a literal."
    )
    tls: TlsConfig | None = Field(
        default=None, description="TLS settings for mqtts:// (default: the system's CAs)."
    )
    keepalive_s: int = Field(default=30, ge=5, le=3600, description="MQTT keepalive.")
    session_expiry_s: int = Field(
        default=86_400,
        ge=0,
        description="How long the broker keeps the session (and queued config) while away.",
    )
    reconnect_initial_s: float = Field(
        default=0.5, gt=0.0, allow_inf_nan=False, description="First reconnect delay."
    )
    reconnect_max_s: float = Field(
        default=30.0, gt=0.0, allow_inf_nan=False, description="Cap on reconnect delays."
    )
    max_in_flight: int = Field(
        default=100, ge=1, le=65_000, description="Reports published but not yet acknowledged."
    )
    delete_on: Literal["ledger", "broker"] = Field(
        default="ledger",
        description=(
            "When a report leaves the outbox: 'ledger' once an aggregator's ack says the "
            "ledger holds it; 'broker' on the broker's PUBACK (only for aggregators that "
            "publish no acks: a broker restart then loses reports)."
        ),
    )
    ack_timeout_s: float = Field(
        default=30.0,
        gt=0.0,
        allow_inf_nan=False,
        description="A report the broker took but no ack covers after this long is sent again.",
    )
    max_resend_interval_s: float = Field(
        default=3600.0,
        gt=0.0,
        allow_inf_nan=False,
        description="Each further try of an unacknowledged report waits twice as long as the "
        "last, up to this (a report the aggregator refuses is kept, not sent in a loop).",
    )
    max_awaiting_ack: int = Field(
        default=10_000,
        ge=1,
        description="Reports the broker took that may wait for an ack before sending pauses.",
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        urls = (value,) if isinstance(value, str) else value
        if not urls:
            raise ValueError("needs at least one broker URL")
        if len({parse_broker_url(url).tls for url in urls}) > 1:
            raise ValueError("all broker URLs must be mqtt://, or all mqtts://")
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> LinkConfig:
        check_tls_matches_url(self.urls[0], self.tls)
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must not be below reconnect_initial_s")
        return self

    def reconnect_policy(self) -> BackoffPolicy:
        """The backoff between reconnect attempts."""
        return BackoffPolicy(
            self.reconnect_initial_s, self.reconnect_max_s, jitter=RECONNECT_JITTER
        )

    @property
    def urls(self) -> tuple[str, ...]:
        """The broker URLs in the order they are tried."""
        return (self.url,) if isinstance(self.url, str) else self.url

    @property
    def addresses(self) -> tuple[BrokerAddress, ...]:
        return tuple(parse_broker_url(url) for url in self.urls)

    @property
    def address(self) -> BrokerAddress:
        """The first broker (where the link starts)."""
        return parse_broker_url(self.urls[0])

    @property
    def host(self) -> str:
        return self.address.host

    @property
    def port(self) -> int:
        return self.address.port

    @property
    def uses_tls(self) -> bool:
        return self.address.tls
