"""Runtime wiring of the ingest side: consumer → queue → writer → ledger → projection.

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

from aggregator.config import AggregatorConfig, RegistryConfig
from aggregator.errors import AggregatorError, AggregatorValueError
from aggregator.ingest.consumer import Message, MqttConsumer
from aggregator.ingest.pipeline import Limits, SequenceTracker, Verifier
from aggregator.ingest.workers import VerifierPool
from aggregator.ingest.writer import BatchBuilder, IngestWriter
from aggregator.ledger.factory import open_ledger
from aggregator.ledger.sql import SqlLedger
from aggregator.metrics import IngestMetrics, MetricsServer
from aggregator.registry.keysource import KeySource
from aggregator.retention import RetentionWorker
from aggregator.series.base import SeriesStore, SeriesUnavailableError
from aggregator.series.factory import open_series
from aggregator.series.projection import Projector

log = logging.getLogger(__name__)


def key_source_from_registry(registry: RegistryConfig) -> KeySource:
    """The key source a ``registry`` config section names."""
    if registry.mode == "allowlist" and registry.allowlist is not None:
        from aggregator.registry.allowlist import AllowlistKeySource

        return AllowlistKeySource(registry.allowlist.path, reload_s=registry.allowlist.reload_s)
    if registry.mode == "chain" and registry.chain is not None:
        from aggregator.registry.chain import connect_chain_key_source

        chain = registry.chain
        return connect_chain_key_source(
            chain.url,
            chain.registry_address,
            cache_s=chain.cache_s,
            negative_cache_s=chain.negative_cache_s,
        )
    raise AggregatorError(f"registry -> mode: {registry.mode!r} has no source configured")


class ProjectionWorker:
    """Runs the projector in a thread; backs off while the series store is down."""

    def __init__(
        self, projector: Projector, metrics: IngestMetrics, interval_s: float, retry_max_s: float
    ) -> None:
        self.projector = projector
        self.metrics = metrics
        self.interval_s = interval_s
        self.retry_max_s = retry_max_s
        self.available = True
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="series-projection", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def _run(self) -> None:
        delay = self.interval_s
        while not self._stop.is_set():
            try:
                moved = self.projector.step()
                self.metrics.count("projected", moved)
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
            self._stop.wait(delay)


class Aggregator:
    """The ingest service of one process (see the module docstring for embedded use)."""

    def __init__(self, config: AggregatorConfig, *, key_source: KeySource | None = None) -> None:
        if config.ingest.verify_worker_count > 0 and key_source is not None:
            raise AggregatorValueError(
                "ingest -> verify_workers: needs the key source from the config, not one "
                "passed in (worker processes build their own)"
            )
        self.config = config
        self.metrics = IngestMetrics()
        self._key_source = key_source
        self.queue: queue.Queue[Message] = queue.Queue(maxsize=config.ingest.queue_size)
        self.ledger: SqlLedger | None = None
        self.reader: SqlLedger | None = None
        self.series: SeriesStore | None = None
        self.consumer: MqttConsumer | None = None
        self.writer: IngestWriter | None = None
        self.projection: ProjectionWorker | None = None
        self.retention: RetentionWorker | None = None
        self.metrics_server: MetricsServer | None = None
        self.pool: VerifierPool | None = None
        self._stopped = threading.Event()

    def start(self, *, connect_timeout: float = 30.0) -> None:
        """Open the stores, connect, subscribe; returns once the first connection is up."""
        cfg = self.config
        keys = (
            self._key_source
            if self._key_source is not None
            else key_source_from_registry(cfg.registry)
        )
        self.ledger = open_ledger(cfg.ledger.url)
        self.reader = open_ledger(cfg.ledger.url, migrate=False)
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
        )
        self.series = open_series(cfg.series.url)
        projector = Projector(self.reader, self.series, batch=cfg.series.batch_reports)
        if cfg.ingest.verify_worker_count > 0:
            self.pool = VerifierPool(cfg.registry, verifier.limits, cfg.ingest.verify_worker_count)
        builder = BatchBuilder(verifier, self.metrics, cfg.ingest.dead_letter_bytes, pool=self.pool)
        prepare = builder.verify if self.pool is None else None
        self.consumer = MqttConsumer(cfg.mqtt, self.queue, prepare=prepare)
        self.writer = IngestWriter(
            self.queue,
            self.ledger,
            builder,
            self.consumer.ack,
            self.metrics,
            batch_size=cfg.ingest.batch_size,
            batch_ms=cfg.ingest.batch_ms,
        )
        self.projection = ProjectionWorker(
            projector, self.metrics, cfg.series.interval_s, cfg.series.retry_max_s
        )
        self.retention = RetentionWorker(self.reader, self.series, cfg.retention)
        self.metrics.gauges["fieldproof_ingest_queue_depth"] = lambda: float(self.queue.qsize())
        self.metrics.gauges["fieldproof_series_lag_rows"] = lambda: float(projector.lag())
        if cfg.metrics.enabled:
            self.metrics_server = MetricsServer(self.metrics, cfg.metrics.host, cfg.metrics.port)
            self.metrics_server.start()
        self.writer.start()
        if cfg.series.in_process:
            self.projection.start()
        self.retention.start()
        self.consumer.start()
        if not self.consumer.wait_connected(connect_timeout):
            self.stop()
            raise AggregatorError(
                f"mqtt -> url: no connection to {cfg.mqtt.url} within {connect_timeout:.0f} s"
            )

    def stop(self) -> None:
        """Commit and acknowledge what was received, then disconnect and close."""
        if self.writer is not None:
            self.writer.stop()
        if self.consumer is not None:
            self.consumer.stop()
        if self.pool is not None:
            self.pool.close()
        if self.projection is not None and self.config.series.in_process:
            self.projection.stop()
        if self.retention is not None:
            self.retention.stop()
        if self.metrics_server is not None:
            self.metrics_server.stop()
        for store in (self.series, self.ledger, self.reader):
            if store is not None:
                store.close()
        self._stopped.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until :meth:`stop` has run."""
        return self._stopped.wait(timeout)


class ProjectionService:
    """The series projection on its own (``fieldproof aggregator project``)."""

    def __init__(self, config: AggregatorConfig) -> None:
        self.config = config
        self.metrics = IngestMetrics()
        self.ledger = open_ledger(config.ledger.url)
        self.series = open_series(config.series.url)
        self.projector = Projector(self.ledger, self.series, batch=config.series.batch_reports)
        self.worker = ProjectionWorker(
            self.projector, self.metrics, config.series.interval_s, config.series.retry_max_s
        )

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop()
        self.series.close()
        self.ledger.close()
