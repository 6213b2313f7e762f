"""Runtime wiring of the aggregator: the roles of one process, from one config.

Roles (``roles:`` in the config): ``ingest`` (consumer → queue → writer → ledger),
``projection`` (ledger → series), ``anchoring`` (epochs closed, anchored on-chain, rewards
published; one leader by a lease in the ledger) and ``api`` (HTTP API and dashboard, served
in-process). Every role shares one ledger; the same file runs all roles in one process or
one role per process.

Embedded use (the demo, tests): build a config with the 3.1.1 protocol (the in-process
amqtt broker speaks no MQTT 5), SQLite URLs and, if convenient, an in-memory key
source, then drive the class::

    config = AggregatorConfig.model_validate({
        "mqtt": {"url": f"mqtt://127.0.0.1:{port}", "protocol": "3.1.1"},
        "ledger": {"url": f"sqlite:///{tmp}/ledger.db"},
        "series": {"url": f"sqlite:///{tmp}/series.db"},
        "registry": {"mode": "allowlist", "allowlist": {"path": "devices.yaml"}},
        "metrics": {"enabled": False},
    })
    keys = StaticKeySource([device.public_key])      # optional; else the allowlist
    aggregator = Aggregator(config, key_source=keys)
    aggregator.start()                                # returns once subscribed
    ...                                               # aggregator.metrics.snapshot()
    aggregator.stop()

``fieldproof aggregator run --config aggregator.yaml`` does the same until SIGTERM.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from aggregator.config import AggregatorConfig
from aggregator.errors import AggregatorError, AggregatorValueError
from aggregator.ingest.acks import LedgerAcks
from aggregator.ingest.beacon import (
    BeaconCheck,
    BeaconPolicy,
    BlockCache,
    BlockSource,
    BlockWatcher,
    Web3Blocks,
)
from aggregator.ingest.beacon_publisher import BeaconPublisher
from aggregator.ingest.consumer import Message
from aggregator.ingest.freshness import DocumentFreshness
from aggregator.ingest.pipeline import Limits, SequenceTracker, Verifier
from aggregator.ingest.source import IngestSource, open_source
from aggregator.ingest.workers import VerifierPool
from aggregator.ingest.writer import BatchBuilder, IngestWriter
from aggregator.ledger.factory import open_ledger
from aggregator.ledger.sql import SqlLedger
from aggregator.metrics import IngestMetrics, MetricsServer
from aggregator.progress import ProgressWatch
from aggregator.registry.device_keys import KeySource
from aggregator.registry.factory import key_source_from_registry
from aggregator.retention import RetentionWorker
from aggregator.series.base import SeriesStore, SeriesUnavailableError
from aggregator.series.factory import open_series
from aggregator.series.projection import Projector

if TYPE_CHECKING:  # the anchoring and api roles pull in web3 and uvicorn
    from aggregator.anchoring.service import EpochAnchorer
    from aggregator.api.server import ApiServer

log = logging.getLogger(__name__)


class ProjectionWorker:
    """Runs the projector in a thread; backs off while the series store is down."""

    def __init__(
        self,
        projector: Projector,
        metrics: IngestMetrics,
        interval_s: float,
        retry_max_s: float,
        progress: ProgressWatch | None = None,
    ) -> None:
        self.projector = projector
        # A finished step counts, failed ones too: an unavailable store is retried with a
        # backoff and shows in series_errors; a step that never returns is a stall.
        self.progress = progress or ProgressWatch("projection", float("inf"))
        self.metrics = metrics
        self.interval_s = interval_s
        self.retry_max_s = retry_max_s
        self.available = True
        # Measured by this thread after each step and read by /metrics: a scrape must
        # answer even while the ledger is locked (the moment it is most needed).
        self.lag_rows = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="series-projection", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    @property
    def running(self) -> bool:
        """True while the thread works (False before start and after it ended)."""
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        delay = self.interval_s
        while not self._stop.is_set():
            try:
                moved = self.projector.step()
                self.metrics.count("projected", moved)
                self.lag_rows = self.projector.lag()
                self.available = True
                delay = self.interval_s
                if moved:
                    continue
            except SeriesUnavailableError as exc:
                self.metrics.count("series_errors")
                if self.available:
                    log.warning("series store unavailable (%s); the ledger keeps accepting", exc)
                self.available = False
                delay = min(max(delay * 2, 0.5), self.retry_max_s)
            except Exception:
                self.metrics.count("series_errors")
                log.exception("projection step failed")
                delay = min(max(delay * 2, 0.5), self.retry_max_s)
            finally:
                self.progress.progressed()
            self._stop.wait(delay)


def _retained(source: IngestSource) -> Callable[[str, bytes, bool], None]:
    """Publish through ``source``, retained where its transport keeps messages (MQTT)."""
    from aggregator.ingest.consumer import MqttConsumer

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        if isinstance(source, MqttConsumer):
            source.publish(topic, payload, retain=retain)
        else:
            source.publish(topic, payload)

    return publish


class Aggregator:
    """The roles of one process (see the module docstring for embedded use)."""

    def __init__(
        self,
        config: AggregatorConfig,
        *,
        key_source: KeySource | None = None,
        block_source: BlockSource | None = None,
    ) -> None:
        if config.ingest.verify_worker_count > 0 and key_source is not None:
            raise AggregatorValueError(
                "ingest -> verify_workers: needs the key source from the config, not one "
                "passed in (worker processes build their own)"
            )
        self.config = config
        self.roles = frozenset(config.roles)
        self.metrics = IngestMetrics()
        self._key_source = key_source
        # Blocks for the beacon check: passed in (the demo's in-process chain) or read
        # from ingest.beacon.rpc / anchoring.rpc.
        self._block_source = block_source
        self.beacon_watcher: BlockWatcher | None = None
        self.queue: queue.Queue[Message] = queue.Queue(maxsize=config.ingest.queue_size)
        self.ledger: SqlLedger | None = None
        self.reader: SqlLedger | None = None
        self.series: SeriesStore | None = None
        self.consumer: IngestSource | None = None
        self.writer: IngestWriter | None = None
        self.projection: ProjectionWorker | None = None
        self.retention: RetentionWorker | None = None
        self.metrics_server: MetricsServer | None = None
        self.pool: VerifierPool | None = None
        self.anchorer: EpochAnchorer | None = None
        self.api: ApiServer | None = None
        self._anchor_ledger: SqlLedger | None = None
        self._anchor_stop = threading.Event()
        self._anchor_thread: threading.Thread | None = None
        self._stopped = threading.Event()
        limits = config.watchdog
        anchor_interval = 0.0 if config.anchoring is None else config.anchoring.interval_s
        self.progress = {
            "ingest": ProgressWatch("ingest", limits.ingest_stall_s),
            "projection": ProgressWatch("projection", limits.projection_stall_s),
            "anchoring": ProgressWatch(
                "anchoring", max(limits.anchoring_stall_s, 2 * anchor_interval)
            ),
        }

    def start(self, *, connect_timeout: float | None = None) -> None:
        """Open the stores and start the configured roles; with ingest, returns once the
        first broker connection is up."""
        cfg = self.config
        try:
            # The writer's connection migrates the schema, anchor state included.
            self.ledger = open_ledger(cfg.ledger.url)
            self.reader = open_ledger(cfg.ledger.url, migrate=False)
            if self.roles & {"ingest", "projection", "api"}:
                self.series = open_series(cfg.series.url)
            if "anchoring" in self.roles:
                self._start_anchoring()
            if self.series is not None:
                projector = Projector(
                    self.reader, self.series, batch=cfg.series.batch_reports, metrics=self.metrics
                )
                self.projection = ProjectionWorker(
                    projector,
                    self.metrics,
                    cfg.series.interval_s,
                    cfg.series.retry_max_s,
                    self.progress["projection"],
                )
                if "projection" in self.roles:
                    worker = self.projection
                    self.metrics.gauges["fieldproof_series_lag_rows"] = lambda: worker.lag_rows
                    self._watch("projection")
                    self.projection.start()
            if "api" in self.roles:
                self._start_api()
            if cfg.metrics.enabled:
                self.metrics_server = MetricsServer(
                    self.metrics, cfg.metrics.host, cfg.metrics.port
                )
                self.metrics_server.start()
            if "ingest" in self.roles:
                self._start_ingest()
            log.info("roles started: %s", ", ".join(sorted(self.roles)))
        except BaseException:
            self.stop()
            raise
        if self.consumer is not None:
            timeout = cfg.mqtt.connect_timeout_s if connect_timeout is None else connect_timeout
            if not self.consumer.wait_connected(timeout):
                self.stop()
                raise AggregatorError(
                    f"mqtt -> url: no connection to {cfg.mqtt.url} within {timeout:.0f} s"
                )

    def _start_ingest(self) -> None:
        cfg = self.config
        assert self.ledger is not None
        assert self.reader is not None
        assert self.series is not None
        if self._key_source is not None:
            keys = self._key_source
        else:
            assert cfg.registry is not None  # the config checks that ingest has one
            keys = key_source_from_registry(cfg.registry)
        tracker = SequenceTracker()
        for device_id, high in self.ledger.device_heads().items():
            tracker.seed(device_id, high)
        verifier = Verifier(
            keys,
            limits=Limits(
                max_bytes=cfg.ingest.max_report_bytes,
                max_future_skew_s=cfg.ingest.max_future_skew_s,
                max_age_s=cfg.ingest.max_age_s,
            ),
            tracker=tracker,
            beacons=self._beacon_check(),
        )
        if cfg.ingest.verify_worker_count > 0:
            assert cfg.registry is not None
            self.pool = VerifierPool(cfg.registry, verifier.limits, cfg.ingest.verify_worker_count)
        freshness = DocumentFreshness(
            max_age_s=cfg.ingest.max_heartbeat_age_s,
            max_future_skew_s=cfg.ingest.max_future_skew_s,
        )
        builder = BatchBuilder(
            verifier,
            self.metrics,
            cfg.ingest.dead_letter_bytes,
            pool=self.pool,
            freshness=freshness,
        )
        prepare = builder.verify if self.pool is None else None
        self.consumer = open_source(cfg, self.queue, prepare=prepare)
        self.writer = IngestWriter(
            self.queue,
            self.ledger,
            builder,
            self.consumer.ack,
            self.metrics,
            batch_size=cfg.ingest.batch_size,
            batch_ms=cfg.ingest.batch_ms,
            acks=LedgerAcks(self.ledger, self.consumer.publish),
            progress=self.progress["ingest"],
        )
        self.retention = RetentionWorker(self.reader, self.series, cfg.retention)
        self.metrics.gauges["fieldproof_ingest_queue_depth"] = lambda: float(self.queue.qsize())
        watcher = self.beacon_watcher
        if watcher is not None:
            if cfg.ingest.beacon.publish:
                watcher.on_head = BeaconPublisher(
                    _retained(self.consumer), cfg.ingest.beacon.publish_every_s
                )
            self.metrics.gauges["fieldproof_beacon_head_block"] = lambda: float(
                -1 if watcher.cache.head is None else watcher.cache.head.number
            )
            watcher.start()
        self._watch("ingest")
        self.writer.start()
        self.retention.start()
        self.consumer.start()

    def _beacon_check(self) -> BeaconCheck | None:
        """The beacon check of this config, with its block watcher (not started yet);
        None when no chain is configured (beacons then decode but are not checked)."""
        cfg = self.config
        source = self._block_source
        if source is None:
            rpc = cfg.ingest.beacon_rpc(cfg.anchoring)
            if rpc is None:
                log.warning("ingest: no chain configured; report beacons are not checked")
                return None
            from fieldproof.chain.backends import connect

            source = Web3Blocks(connect(rpc, check=False))
        beacon = cfg.ingest.beacon
        cache = BlockCache(source, keep=beacon.cache_blocks)
        self.beacon_watcher = BlockWatcher(cache, beacon.poll_s)
        return BeaconCheck(cache, BeaconPolicy(beacon.max_age_s, beacon.allow_missing))

    def _start_anchoring(self) -> None:
        from aggregator.anchoring.setup import build_anchorer

        anchoring = self.config.anchoring
        assert anchoring is not None  # the config checks that the role has its section
        # Its own connection: closing a large epoch must not hold up the API's reads.
        self._anchor_ledger = open_ledger(self.config.ledger.url, migrate=False)
        self.anchorer = build_anchorer(anchoring, self.config.rewards, self._anchor_ledger)
        self._anchor_thread = threading.Thread(
            target=self.anchorer.run,
            args=(self._anchor_stop, anchoring.interval_s, self.progress["anchoring"]),
            name="epoch-anchoring",
            daemon=True,
        )
        self._watch("anchoring")
        self._anchor_thread.start()

    def _start_api(self) -> None:
        from aggregator.api.app import create_app
        from aggregator.api.devicefile import load_devices
        from aggregator.api.server import ApiServer
        from aggregator.api.sources import ApiSources, chain_reader

        cfg = self.config
        assert self.reader is not None
        assert self.series is not None
        anchoring = cfg.anchoring
        sources = ApiSources(
            ledger=self.reader,
            series=self.series,
            anchors=self.reader,
            bundle_dir=None if anchoring is None else anchoring.bundle_dir,
            chain=None if anchoring is None else chain_reader(anchoring.rpc, anchoring.deployment),
            devices={} if cfg.api.devices is None else load_devices(cfg.api.devices),
            stale_after_s=cfg.api.stale_after_s,
        )
        self.api = ApiServer(create_app(sources, cfg.api), cfg.api.host, cfg.api.port)
        self.api.start()
        log.info("API and dashboard on %s/", self.api.url)

    def stop(self) -> None:
        """Commit and acknowledge what was received, then disconnect and close."""
        if self.writer is not None:
            self.writer.stop()
        if self.beacon_watcher is not None:
            self.beacon_watcher.stop()
        if self.consumer is not None:
            self.consumer.stop()
        if self.pool is not None:
            self.pool.close()
        if self._anchor_thread is not None:
            self._anchor_stop.set()
            self._anchor_thread.join(30)
        if self.api is not None:
            self.api.stop()
        if self.projection is not None and "projection" in self.roles:
            self.projection.stop()
        if self.retention is not None:
            self.retention.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        for store in (self.series, self.ledger, self.reader, self._anchor_ledger):
            if store is not None:
                store.close()
        self._stopped.set()

    def _watch(self, role: str) -> None:
        watch = self.progress[role]
        self.metrics.gauges[f"fieldproof_{role}_silent_seconds"] = watch.silent_s

    def stalled_roles(self) -> list[str]:
        """The started roles whose loop made no progress within its limit."""
        started = {
            "ingest": self.writer is not None,
            "projection": self.projection is not None and "projection" in self.roles,
            "anchoring": self._anchor_thread is not None,
        }
        return [role for role, on in started.items() if on and self.progress[role].stalled()]

    def alive(self) -> bool:
        """True while every started role's thread runs and none is stalled (what feeds
        systemd's watchdog)."""
        parts: list[bool] = []
        if self.writer is not None:
            parts.append(self.writer.running)
        if self.projection is not None and "projection" in self.roles:
            parts.append(self.projection.running)
        if self._anchor_thread is not None:
            parts.append(self._anchor_thread.is_alive())
        parts.append(not self.stalled_roles())
        if self.api is not None:
            parts.append(self.api.running)
        return not self._stopped.is_set() and all(parts)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` has run."""
        return self._stopped.wait(timeout)
