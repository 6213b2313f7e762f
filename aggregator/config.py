"""The aggregator's config tree: one YAML file (``aggregator.yaml``), validated at start-up.

One file describes the whole service; ``roles`` says which parts this process runs
(``ingest``, ``projection``, ``anchoring`` with rewards, ``api``), so the same file runs
everything in one process or one role per process. Backends are chosen by URL:
``ledger.url`` (``sqlite:///path`` or ``postgresql://…``), ``series.url``
(``sqlite:///path``, ``influx://host:port/db``, ``influxs://…``), ``mqtt.url``
(``mqtt://host:port``, ``mqtts://…`` or a NATS JetStream cluster,
``nats://host:port[,host:port…]``) and ``anchoring.rpc`` (``http(s)://…``).
Relative paths, ``sqlite:///`` paths included, resolve from the config file's folder.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from aggregator.api.config import ApiConfig
from fieldproof.chain.errors import ChainValueError
from fieldproof.config import ConfigModel, load_config, resolve_paths
from fieldproof.transport.config import TlsConfig, check_tls_matches_url
from fieldproof.wire import MAX_REPORT_SIZE

LEDGER_SCHEMES = ("sqlite", "postgresql", "postgres")
SERIES_SCHEMES = ("sqlite", "influx", "influxs")
MQTT_SCHEMES = ("mqtt", "mqtts")
NATS_SCHEME = "nats"
RPC_SCHEMES = ("http", "https")

Role = Literal["ingest", "projection", "anchoring", "api"]
ROLES: tuple[Role, ...] = ("ingest", "projection", "anchoring", "api")


def _check_scheme(url: str, schemes: tuple[str, ...]) -> str:
    scheme = urlsplit(url).scheme
    if scheme not in schemes:
        raise ValueError(f"unknown URL scheme {scheme!r}; expected one of {', '.join(schemes)}")
    return url


def nats_servers(url: str) -> list[str]:
    """``nats://h1:p1,h2:p2`` as one ``nats://host:port`` URL per server; ValueError when
    an entry has no host or a bad port."""
    rest = url.removeprefix(f"{NATS_SCHEME}://")
    servers = []
    for raw in rest.split(","):
        entry = raw.strip().removeprefix(f"{NATS_SCHEME}://")
        parts = urlsplit(f"{NATS_SCHEME}://{entry}")
        if not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"expected host[:port] in {url!r}, got {entry!r}")
        port = parts.port or 4222  # raises ValueError on a bad port
        servers.append(f"{NATS_SCHEME}://{parts.hostname}:{port}")
    return servers


def is_nats_url(url: str) -> bool:
    return urlsplit(url).scheme == NATS_SCHEME


class MqttConfig(ConfigModel):
    url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="Broker URL: mqtt:// or mqtts:// (an MQTT broker), or "
        "nats://host:port[,host:port…] (a NATS JetStream cluster, see the nats section; "
        "user name and password below apply to it too).",
    )
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
    tls: TlsConfig | None = Field(
        None, description="TLS settings for mqtts:// (default: the system's CAs)."
    )
    keepalive_s: int = Field(30, ge=5, le=3600, description="MQTT keep-alive in seconds.")
    receive_maximum: int = Field(
        2000,
        ge=1,
        le=65535,
        description="Unacknowledged QoS 1 messages the broker may send; twice "
        "ingest.batch_size lets the next batch arrive while one is committed.",
    )
    session_expiry_s: int = Field(
        7 * 86400,
        ge=0,
        description="How long the broker keeps the session (and queues reports) while the "
        "aggregator is away; devices also keep every report until its ack, so a longer "
        "outage costs resends, not reports.",
    )
    connect_timeout_s: float = Field(
        30.0, gt=0, description="Start-up fails when the broker is not reached within this."
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if is_nats_url(value):
            nats_servers(value)
            return value
        return _check_scheme(value, (*MQTT_SCHEMES, NATS_SCHEME))

    @field_validator("group")
    @classmethod
    def _group(cls, value: str) -> str:
        if not value or any(ch in value for ch in "/+#"):
            raise ValueError("must be non-empty and contain no '/', '+' or '#'")
        return value

    @model_validator(mode="after")
    def _tls(self) -> MqttConfig:
        if is_nats_url(self.url):
            if self.tls is not None:
                raise ValueError("a tls section is for mqtts:// urls; nats:// runs without it")
            return self
        check_tls_matches_url(self.url, self.tls)
        return self


class NatsConfig(ConfigModel):
    """The JetStream side of a ``nats://`` transport: devices publish over MQTT to any
    node, the stream keeps their reports, and every aggregator process pulls from one
    durable consumer, acknowledging each message after its ledger commit."""

    stream: str = Field("FIELDPROOF", description="Stream over the device subjects.")
    consumer: str = Field(
        "aggregators", description="Durable pull consumer shared by all aggregator processes."
    )
    replicas: int = Field(
        3,
        ge=1,
        le=5,
        description="Replicas of the stream when the aggregator creates it (an existing "
        "stream is used as configured).",
    )
    max_age_days: float = Field(
        7.0,
        gt=0,
        description="How long the stream keeps unacknowledged reports (created streams "
        "only); devices keep every report until its ack, so an older one costs a resend.",
    )
    ack_wait_s: float = Field(
        30.0,
        gt=0,
        description="A delivered message not acknowledged within this is delivered again "
        "(to any aggregator process): what a killed process costs in delay.",
    )
    max_ack_pending: int = Field(
        2000,
        ge=1,
        description="Delivered, unacknowledged messages the consumer allows in all; "
        "twice ingest.batch_size lets the next batch arrive while one is committed.",
    )
    fetch_batch: int = Field(500, ge=1, le=10_000, description="Messages asked for per pull.")


MAX_VERIFY_WORKERS = 64
BEACON_RPC_SCHEMES = ("http", "https")


class BeaconConfig(ConfigModel):
    rpc: str | None = Field(
        None,
        description="Chain URL whose blocks reports' beacons must name (http(s)://); none: "
        "anchoring.rpc when this file has an anchoring section, else beacons are not "
        "checked.",
    )
    max_age_s: float = Field(
        3600.0,
        gt=0,
        description="How much older than the end of its interval a report's beacon block "
        "may be (beacon_stale beyond): the most a report can be made ahead of its time.",
    )
    allow_missing: bool = Field(
        True,
        description="Accept reports without a beacon (wire version 1). On during "
        "migration; once every device runs version 2, turn it off (beacon_missing).",
    )
    poll_s: float = Field(2.0, gt=0, description="How often the chain's head is read.")
    cache_blocks: int = Field(
        2048,
        ge=16,
        description="Recent blocks kept in memory; an older beacon block is looked up once "
        "and remembered.",
    )
    publish: bool = Field(
        True,
        description="Publish the latest block, retained, on fp/v1/beacon for agents "
        "(the ingest role, only when beacons are checked).",
    )
    publish_every_s: float = Field(10.0, gt=0, description="Publish a new head at most this often.")

    @field_validator("rpc")
    @classmethod
    def _rpc(cls, value: str | None) -> str | None:
        return None if value is None else _check_scheme(value, BEACON_RPC_SCHEMES)


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
    max_heartbeat_age_s: int = Field(
        600,
        ge=1,
        description="How old a signed heartbeat may be (heartbeats are sent live, never "
        "buffered; an older one is a replay).",
    )
    verify_workers: int | Literal["auto"] = Field(
        0,
        description="Processes that decode and verify (0: the receiving thread does; "
        "auto: one per core). Needs a key source from this config.",
    )
    dead_letter_bytes: int = Field(
        4096, ge=0, description="Raw bytes kept per dead letter (the rest is cut)."
    )
    beacon: BeaconConfig = Field(
        default_factory=BeaconConfig,  # type: ignore[arg-type]
        description="The freshness beacon every version 2 report carries: a recent block "
        "of the chain (checked from a cache, never a chain call per report).",
    )

    @field_validator("verify_workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        if value == "auto" or (
            type(value) is int and 0 <= value <= MAX_VERIFY_WORKERS  # bool is not a count
        ):
            return value
        raise ValueError(f"must be auto or a number of processes 0..{MAX_VERIFY_WORKERS}")

    def beacon_rpc(self, anchoring: AnchoringConfig | None) -> str | None:
        """The chain beacons are checked against (see ``beacon.rpc``)."""
        if self.beacon.rpc is not None:
            return self.beacon.rpc
        return None if anchoring is None else anchoring.rpc

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
        90.0,
        gt=0,
        description="Purge dead letters and refused series points older than this; none: keep.",
    )
    interval_s: float = Field(3600.0, gt=0, description="How often the purge runs.")
    chunk: int = Field(10_000, ge=1, description="Rows deleted per statement.")


class WatchdogConfig(ConfigModel):
    """How long each role's loop may go without progress before the process counts as
    stalled (systemd's watchdog then restarts it; /metrics shows which role)."""

    ingest_stall_s: float = Field(
        120.0, gt=0, description="Ingest: no commit while messages wait for this long."
    )
    projection_stall_s: float = Field(
        300.0,
        gt=0,
        description="Projection: no finished step for this long (an unavailable series "
        "store is retried, not a stall).",
    )
    anchoring_stall_s: float = Field(
        900.0,
        gt=0,
        description="Anchoring: no finished tick for this long (a failed tick is retried, "
        "not a stall); at least twice anchoring.interval_s is used.",
    )


class AnchoringConfig(ConfigModel):
    rpc: str = Field(description="JSON-RPC URL of the chain, http(s)://.")
    deployment: Path = Field(description="deployment.json naming the contract addresses.")
    key: str = Field(
        description="Transaction key source: keystore:PATH (passphrase from "
        "FIELDPROOF_KEYSTORE_PASSPHRASE) or env:VARNAME (a hex key in that variable). The "
        "account needs the anchorer and distributor roles."
    )
    bundle_dir: Path = Field(
        Path("bundles"), description="Where epoch bundles (<cid>.json) are written."
    )
    epoch_seconds: int = Field(3600, ge=1, description="Epoch length in seconds.")
    genesis: int = Field(0, ge=0, description="Unix time at which epoch 0 starts.")
    grace_seconds: float = Field(
        5.0,
        ge=0,
        description="Wait this long after an epoch ends before closing it; must exceed the "
        "time ingest takes to commit a received report, or late commits miss their epoch.",
    )
    first_epoch: int | None = Field(
        None,
        ge=0,
        description="First epoch anchored on the very first start; none: the epoch then in "
        "progress. Fixed in the ledger once chosen.",
    )
    holder: str = Field(
        default_factory=socket.gethostname,
        min_length=1,
        description="This process's name in the anchoring lease (default: the host name); "
        "each process that may anchor needs its own.",
    )
    interval_s: float = Field(1.0, gt=0, description="Seconds between anchoring ticks.")
    lease_seconds: float = Field(
        30.0, gt=0, description="How long the anchoring lease lasts without renewal."
    )

    @field_validator("rpc")
    @classmethod
    def _rpc(cls, value: str) -> str:
        return _check_scheme(value, RPC_SCHEMES)

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        from fieldproof.chain.keysource import parse_key_source

        try:
            parse_key_source(value)
        except ChainValueError as exc:
            raise ValueError("expected keystore:PATH or env:VARNAME") from exc
        return value


class RewardsConfig(ConfigModel):
    emission: int = Field(
        1000 * 10**18,
        ge=0,
        description="Reward token units split per epoch; at most RewardDistributor's epoch "
        "cap (checked against the chain at start-up).",
    )
    agreement_tolerance_ppm: int = Field(
        20_000,
        ge=0,
        le=1_000_000,
        description="How far (parts per million of a metric's physical range) a reading "
        "may lie from its neighbours' median and still agree (version 1 rewards, for "
        "epochs without placements).",
    )
    placements: Literal["chain", "devices", "none"] = Field(
        "chain",
        description="Where each epoch's device placements (cell, seniority, eligibility, "
        "stake) come from: chain (DeviceStaking at the epoch's end), devices (the device "
        "file's lat/lon; every located device eligible), none (version 1 rewards).",
    )
    devices: Path | None = Field(
        None, description="Device file (devices.yaml: id, lat, lon) for placements: devices."
    )
    cell_capacity: int = Field(
        3, ge=1, description="At most this many devices per H3 cell earn in an epoch."
    )
    neighbour_rings: int = Field(
        4,
        ge=0,
        description="Neighbours are the devices whose cells lie within this many cell "
        "steps (resolution 7: about 2.4 km a step).",
    )
    min_neighbour_cells: int = Field(
        3, ge=1, description="Fewer neighbouring cells than this: consistency is neutral."
    )

    @model_validator(mode="after")
    def _check_devices(self) -> RewardsConfig:
        if self.placements == "devices" and self.devices is None:
            raise ValueError("placements: devices needs rewards -> devices (the device file)")
        return self


class AggregatorConfig(ConfigModel):
    roles: tuple[Role, ...] = Field(
        ("ingest", "projection"),
        min_length=1,
        description="What this process runs: ingest (MQTT to ledger), projection (ledger "
        "to series), anchoring (epochs on-chain and rewards), api (HTTP API and dashboard). "
        "The same file with different roles runs one role per process.",
    )
    ledger: LedgerConfig = Field(
        default_factory=LedgerConfig,  # type: ignore[arg-type]
        description="The ledger every role shares (reports, anchor state).",
    )
    series: SeriesConfig = Field(
        default_factory=SeriesConfig,  # type: ignore[arg-type]
        description="The series store (projection writes, api reads).",
    )
    mqtt: MqttConfig = Field(
        default_factory=MqttConfig,  # type: ignore[arg-type]
        description="The broker ingest subscribes to.",
    )
    nats: NatsConfig = Field(
        default_factory=NatsConfig,  # type: ignore[arg-type]
        description="Stream and consumer of a nats:// transport (ignored for MQTT).",
    )
    ingest: IngestConfig = Field(
        default_factory=IngestConfig,  # type: ignore[arg-type]
        description="Batching and limits of ingest.",
    )
    registry: RegistryConfig | None = Field(
        None, description="Where ingest finds device keys (needed by the ingest role)."
    )
    anchoring: AnchoringConfig | None = Field(
        None, description="Epochs anchored on-chain (needed by the anchoring role)."
    )
    rewards: RewardsConfig = Field(
        default_factory=RewardsConfig,  # type: ignore[arg-type]
        description="Rewards published with each anchored epoch.",
    )
    api: ApiConfig = Field(
        default_factory=ApiConfig,  # type: ignore[arg-type]
        description="The HTTP API and dashboard (the api role).",
    )
    metrics: MetricsConfig = Field(
        default_factory=MetricsConfig,  # type: ignore[arg-type]
        description="Prometheus metrics of this process.",
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig,  # type: ignore[arg-type]
        description="Purges of old series points, health history and dead letters "
        "(run by the ingest role).",
    )
    watchdog: WatchdogConfig = Field(
        default_factory=WatchdogConfig,  # type: ignore[arg-type]
        description="Stall limits of the role loops (what feeds systemd's watchdog).",
    )

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: tuple[Role, ...]) -> tuple[Role, ...]:
        if len(set(value)) != len(value):
            raise ValueError("a role is listed twice")
        return value

    @model_validator(mode="after")
    def _check(self) -> AggregatorConfig:
        verify_batch_fits_window(self)
        verify_roles_configured(self)
        return self


def verify_batch_fits_window(config: AggregatorConfig) -> None:
    # The broker stops sending at receive_maximum (JetStream: max_ack_pending)
    # unacknowledged messages and we ack only after a commit: a bigger batch would wait
    # for its timer every time.
    if is_nats_url(config.mqtt.url):
        window, name = config.nats.max_ack_pending, "nats -> max_ack_pending"
    else:
        window, name = config.mqtt.receive_maximum, "mqtt -> receive_maximum"
    if config.ingest.batch_size > window:
        raise ValueError(
            f"ingest -> batch_size ({config.ingest.batch_size}) must not exceed {name} ({window})"
        )


def verify_roles_configured(config: AggregatorConfig) -> None:
    """Each role in ``roles`` has the section it cannot run without."""
    if "ingest" in config.roles and config.registry is None:
        raise ValueError("roles: ingest needs a 'registry' section (where device keys come from)")
    if "anchoring" in config.roles and config.anchoring is None:
        raise ValueError("roles: anchoring needs an 'anchoring' section (chain, key, epochs)")


def _resolve_url(url: str, base: Path) -> str:
    prefix = "sqlite:///"
    rest = url[len(prefix) :]
    if not url.startswith(prefix) or rest == ":memory:" or rest.startswith("/"):
        return url
    return f"{prefix}{base / rest}"


def _resolve_urls(config: AggregatorConfig, base: Path) -> AggregatorConfig:
    """Relative ``sqlite:///`` URLs and ``keystore:`` paths made relative to ``base``."""
    update: dict[str, Any] = {
        "ledger": config.ledger.model_copy(update={"url": _resolve_url(config.ledger.url, base)}),
        "series": config.series.model_copy(update={"url": _resolve_url(config.series.url, base)}),
    }
    anchoring = config.anchoring
    if anchoring is not None and anchoring.key.startswith("keystore:"):
        keystore = Path(anchoring.key.removeprefix("keystore:"))
        if not keystore.is_absolute():
            update["anchoring"] = anchoring.model_copy(
                update={"key": f"keystore:{base / keystore}"}
            )
    return config.model_copy(update=update)


def load_aggregator_config(path: Path) -> AggregatorConfig:
    """Read and validate ``path``; a ConfigError names each bad key path. Relative paths
    in it (files, ``sqlite:///`` URLs, ``keystore:`` sources) resolve from its folder."""
    base = path.resolve().parent
    return _resolve_urls(resolve_paths(load_config(AggregatorConfig, path), base), base)
