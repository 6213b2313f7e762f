"""Config of the MQTT link: broker URL, protocol, TLS and credentials, session, backoff."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from fieldproof.backoff import BackoffPolicy
from fieldproof.config import ConfigModel

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
# Up to a fifth off each reconnect delay, so a fleet that lost its broker together
# does not come back in lockstep.
RECONNECT_JITTER = 0.2


class TlsConfig(ConfigModel):
    """TLS towards the broker: the CA that signed it, and an optional client certificate."""

    ca_file: Path = Field(description="PEM CA certificate that signed the broker's certificate.")
    cert_file: Path | None = Field(default=None, description="Device client certificate (PEM).")
    key_file: Path | None = Field(default=None, description="Private key of cert_file (PEM).")

    @model_validator(mode="after")
    def _check_pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


class LinkConfig(ConfigModel):
    """How the agent reaches its broker."""

    url: str = Field(
        default="mqtt://127.0.0.1:1883",
        description="mqtt://host[:port] or mqtts://host[:port] (TLS).",
    )
    protocol: Literal["5", "3.1.1"] = Field(
        default="5", description="MQTT 5, or 3.1.1 for brokers without it (amqtt)."
    )
    client_id: str | None = Field(
        default=None, description="Client id; default the device's 0x-hex id."
    )
    username: str | None = Field(default=None, description="Broker user (default: none).")
    password: str | None = Field(
        default=None, description="Broker password; use ${secret:NAME}, never a literal."
    )
    tls: TlsConfig | None = Field(default=None, description="TLS settings (mqtts:// needs them).")
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

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in DEFAULT_PORTS:
            raise ValueError(f"unknown scheme {parts.scheme!r}: use mqtt:// or mqtts://")
        if not parts.hostname:
            raise ValueError("missing host")
        _ = parts.port  # raises ValueError on a bad port
        return value

    @model_validator(mode="after")
    def _check_tls(self) -> LinkConfig:
        if urlsplit(self.url).scheme == "mqtts" and self.tls is None:
            raise ValueError("mqtts:// needs a tls section with ca_file")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise ValueError("reconnect_max_s must not be below reconnect_initial_s")
        return self

    def reconnect_policy(self) -> BackoffPolicy:
        """The backoff between reconnect attempts."""
        return BackoffPolicy(
            self.reconnect_initial_s, self.reconnect_max_s, jitter=RECONNECT_JITTER
        )

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or DEFAULT_PORTS[parts.scheme]

    @property
    def uses_tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"
