"""The aggregator's config tree: one YAML file (``aggregator.yaml``), validated at start-up.

Backends are chosen by URL: ``ledger.url`` (``sqlite:///path`` or ``postgresql://…``),
``series.url`` (``sqlite:///path``, ``influx://host:port/db``, ``influxs://…``), and
``mqtt.url`` (``mqtt://host:port`` or ``mqtts://…``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from fieldproof.config import ConfigModel, load_config
from fieldproof.wire import MAX_REPORT_SIZE

LEDGER_SCHEMES = ("sqlite", "postgresql", "postgres")
SERIES_SCHEMES = ("sqlite", "influx", "influxs")
MQTT_SCHEMES = ("mqtt", "mqtts")


def _check_scheme(url: str, schemes: tuple[str, ...]) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in schemes:
        raise ValueError(f"unknown URL scheme {scheme!r}; expected one of {', '.join(schemes)}")
    return url


class MqttConfig(ConfigModel):
    url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL, mqtt:// or mqtts://.")
    protocol: Literal["5", "3.1.1"] = Field(
        "5",
        description="MQTT 5 uses the shared subscription; 3.1.1 (brokers without v5, such as "
        "the in-process demo broker) subscribes to the plain filter.",
    )
    group: str = Field("aggregators", description="Shared-subscription group name.")
    client_id: str | None = Field(
        None,
        description="Client id, stable across restarts (the broker keeps its session); "
        "default fp-aggregator-<hostname>. Each process needs its own.",
    )
    username: str | None = Field(None, description="Broker user name.")
    password: str | None = Field(None, description="Broker password (use ${secret:NAME}).")
    ca_file: Path | None = Field(None, description="CA bundle for mqtts://.")
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive in seconds.")
    receive_maximum: int = Field(
        2000,
        ge=1,
        le=65535,
        description="Unacknowledged QoS 1 messages the broker may send; twice "
        "ingest.batch_size lets the next batch arrive while one is committed.",
    )
    session_expiry_s: int = Field(
        3600,
        ge=0,
        description="How long the broker keeps the session (and queues reports) while the "
        "aggregator is away.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_scheme(value, MQTT_SCHEMES)

    @field_validator("group")
    @classmethod
    def _group(cls, value: str) -> str:
        if not value or any(ch in value for ch in "/+#"):
            raise ValueError("must be non-empty and contain no '/', '+' or '#'")
        return value


MAX_VERIFY_WORKERS = 64


class IngestConfig(ConfigModel):
    batch_size: int = Field(1000, ge=1, le=10_000, description="Commit after N messages...")
    batch_ms: int = Field(50, ge=1, le=10_000, description="...or after T milliseconds.")
    queue_size: int = Field(
        5_000,
        ge=1,
        description="Messages waiting for the writer; when full the MQTT thread waits "
        "(backpressure to the broker) instead of growing memory.",
    )
    max_report_bytes: int = Field(MAX_REPORT_SIZE, ge=64, le=1 << 20, description="Size cap.")
    max_future_skew_s: int = Field(
        300, ge=0, description="How far past the receive time a report's end may lie."
    )
    max_age_s: int = Field(
        30 * 86_400,
        ge=60,
        description="How old a report's start may be (devices buffer while offline).",
    )
    verify_workers: int | Literal["auto"] = Field(
        0,
        description="Processes that decode and verify (0: the receiving thread does; "
        "auto: one per core). Needs a key source from this config.",
    )
    dead_letter_bytes: int = Field(
        4096, ge=0, description="Raw bytes kept per dead letter (the rest is cut)."
    )

    @field_validator("verify_workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        if value == "auto" or (
            type(value) is int and 0 <= value <= MAX_VERIFY_WORKERS  # bool is not a count
        ):
            return value
        raise ValueError(f"must be auto or a number of processes 0..{MAX_VERIFY_WORKERS}")

    @property
    def verify_worker_count(self) -> int:
        """``verify_workers`` as a number: ``auto`` is one per core this process may use."""
        if self.verify_workers == "auto":
            return min(len(os.sched_getaffinity(0)), MAX_VERIFY_WORKERS)
        return self.verify_workers


class LedgerConfig(ConfigModel):
    url: str = Field("sqlite:///aggregator-ledger.db", description="sqlite:/// or postgresql://.")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_scheme(value, LEDGER_SCHEMES)


class SeriesConfig(ConfigModel):
    url: str = Field(
        "sqlite:///aggregator-series.db", description="sqlite:/// or influx://host:port/db."
    )
    batch_reports: int = Field(500, ge=1, description="Ledger rows projected per step.")
    interval_s: float = Field(0.5, gt=0, description="Pause between projection steps when idle.")
    retry_max_s: float = Field(30.0, gt=0, description="Longest pause after a failed write.")
    in_process: bool = Field(
        True,
        description="Project in the ingest process; false: run `fieldproof aggregator "
        "project` beside it, which leaves the ingest process's interpreter to ingest.",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return _check_scheme(value, SERIES_SCHEMES)


class AllowlistConfig(ConfigModel):
    path: Path = Field(description="YAML file listing devices (public key, active flag).")
    reload_s: float = Field(5.0, gt=0, description="How often the file is checked for changes.")


class ChainRegistryConfig(ConfigModel):
    url: str = Field(description="Chain URL (eth-tester:// or http(s)://).")
    registry_address: str = Field(description="DeviceRegistry contract address.")
    cache_s: float = Field(60.0, gt=0, description="How long a looked-up device is trusted.")
    negative_cache_s: float = Field(5.0, gt=0, description="How long an unknown device is.")


class RegistryConfig(ConfigModel):
    mode: Literal["allowlist", "chain"] = Field("allowlist", description="Device key source.")
    allowlist: AllowlistConfig | None = Field(None, description="Allowlist (embedded mode).")
    chain: ChainRegistryConfig | None = Field(None, description="DeviceRegistry (chain mode).")

    @model_validator(mode="after")
    def _source_present(self) -> RegistryConfig:
        if self.mode == "allowlist" and self.allowlist is None:
            raise ValueError("mode 'allowlist' needs an 'allowlist' section")
        if self.mode == "chain" and self.chain is None:
            raise ValueError("mode 'chain' needs a 'chain' section")
        return self


class MetricsConfig(ConfigModel):
    enabled: bool = Field(True, description="Serve Prometheus metrics on /metrics.")
    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(9464, ge=0, le=65535, description="Port (0: any free port).")


class RetentionConfig(ConfigModel):
    series_days: float | None = Field(
        None, gt=0, description="Purge series points older than this; none: keep."
    )
    health_days: float | None = Field(
        30.0, gt=0, description="Purge health history older than this; none: keep."
    )
    dead_letter_days: float | None = Field(
        90.0, gt=0, description="Purge dead letters older than this; none: keep."
    )
    interval_s: float = Field(3600.0, gt=0, description="How often the purge runs.")
    chunk: int = Field(10_000, ge=1, description="Rows deleted per statement.")


class AggregatorConfig(ConfigModel):
    mqtt: MqttConfig = Field(default_factory=MqttConfig)  # type: ignore[arg-type]
    ingest: IngestConfig = Field(default_factory=IngestConfig)  # type: ignore[arg-type]
    ledger: LedgerConfig = Field(default_factory=LedgerConfig)  # type: ignore[arg-type]
    series: SeriesConfig = Field(default_factory=SeriesConfig)  # type: ignore[arg-type]
    registry: RegistryConfig
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)  # type: ignore[arg-type]
    retention: RetentionConfig = Field(default_factory=RetentionConfig)  # type: ignore[arg-type]

    @model_validator(mode="after")
    def _batch_fits_window(self) -> AggregatorConfig:
        # The broker stops sending at receive_maximum unacknowledged messages and we ack
        # only after a commit: a bigger batch would wait for its timer every time.
        if self.ingest.batch_size > self.mqtt.receive_maximum:
            raise ValueError(
                f"ingest -> batch_size ({self.ingest.batch_size}) must not exceed "
                f"mqtt -> receive_maximum ({self.mqtt.receive_maximum})"
            )
        return self


def load_aggregator_config(path: Path) -> AggregatorConfig:
    """Read and validate ``path``; a ConfigError names each bad key path."""
    return load_config(AggregatorConfig, path)
