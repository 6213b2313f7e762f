"""Broker URLs and TLS settings, shared by the agent's ``link`` and the aggregator's ``mqtt``.

Pure config (no paho): a config file is checked without the MQTT client installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from fieldproof.config import ConfigModel

MqttProtocol = Literal["5", "3.1.1"]
DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where a broker listens and whether the connection is TLS (``mqtts://``)."""

    host: str
    port: int
    tls: bool


def parse_broker_url(url: str) -> BrokerAddress:
    """``mqtt://host[:port]`` or ``mqtts://host[:port]``; ValueError names what is wrong."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError(f"unknown URL scheme {parts.scheme!r}: use mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"no host in {url!r}")
    port = parts.port  # raises ValueError on a bad port
    return BrokerAddress(
        parts.hostname, port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts"
    )


class TlsConfig(ConfigModel):
    """TLS towards the broker (``mqtts://``). The broker's certificate and host name are
    always verified."""

    ca_file: Path | None = Field(
        default=None,
        description="PEM CA certificate(s) that signed the broker's certificate; "
        "unset: the system's trusted CAs.",
    )
    cert_file: Path | None = Field(
        default=None, description="Client certificate (PEM), for brokers that require one."
    )
    key_file: Path | None = Field(default=None, description="Private key of cert_file (PEM).")

    @model_validator(mode="after")
    def _check_pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        return self


def check_tls_matches_url(url: str, tls: TlsConfig | None) -> None:
    """A ``tls`` section on a plain ``mqtt://`` URL would be ignored: refuse it instead."""
    if tls is not None and not parse_broker_url(url).tls:
        raise ValueError("a tls section needs an mqtts:// url")
