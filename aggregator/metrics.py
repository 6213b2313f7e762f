"""Prometheus metrics of the ingest path, through ``prometheus_client`` on ``/metrics``.

Counters: received, accepted, rejected by reason, duplicates, gaps, batches, series
points refused for good; gauges: queue depth, projection lag; a histogram of batch
commit latency. Each :class:`IngestMetrics` has its own registry, so several
aggregators can share a process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from fieldproof.metrics_http import MetricsServer as RegistryServer

log = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# (attribute, metric name without _total, help)
_COUNTERS = (
    ("received", "fieldproof_ingest_received", "Messages received."),
    ("processed", "fieldproof_ingest_processed", "Messages committed."),
    ("accepted", "fieldproof_ingest_accepted", "Reports stored."),
    ("duplicates", "fieldproof_ingest_duplicates", "Reports seen before."),
    ("gaps", "fieldproof_ingest_gaps", "Sequence gaps recorded."),
    ("status_updates", "fieldproof_ingest_status_updates", "Status messages."),
    ("health_updates", "fieldproof_ingest_health_updates", "Health messages."),
    ("projected", "fieldproof_series_projected", "Rows projected."),
    ("series_errors", "fieldproof_series_errors", "Failed series writes."),
    (
        "series_dead_points",
        "fieldproof_series_dead_points",
        "Points the series store refused for good, kept in the ledger's series_dead_points.",
    ),
)
GAUGE_HELP = {
    "fieldproof_ingest_queue_depth": "Messages received and waiting for the writer.",
    "fieldproof_series_lag_rows": "Ledger rows not yet projected into the series store.",
    "fieldproof_ingest_silent_seconds": "Seconds since ingest last committed or found "
    "nothing waiting.",
    "fieldproof_projection_silent_seconds": "Seconds since the projection last finished a step.",
    "fieldproof_anchoring_silent_seconds": "Seconds since the anchoring loop last finished a tick.",
}


class IngestMetrics:
    """Thread-safe counters read by the registry at scrape time (``registry``).

    ``gauges`` maps a gauge name to a function read at scrape time (queue depth,
    projection lag); one that raises is left out of that scrape.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.received = 0
        self.processed = 0
        self.accepted = 0
        self.duplicates = 0
        self.gaps = 0
        self.batches = 0
        self.status_updates = 0
        self.health_updates = 0
        self.series_errors = 0
        self.projected = 0
        self.series_dead_points = 0
        self.rejected: dict[str, int] = {}
        self.gauges: dict[str, Callable[[], float]] = {}
        self.lag_s = 0.0
        self.registry = CollectorRegistry()
        self._batch_seconds = Histogram(
            "fieldproof_ingest_batch_seconds",
            "Time to verify and commit one batch.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_IngestCollector(self))

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def reject(self, reason: str) -> None:
        with self._lock:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def observe_batch(self, seconds: float, lag_s: float = 0.0) -> None:
        """A committed batch: its verify+commit time and the age of its oldest message."""
        with self._lock:
            self.lag_s = lag_s
            self.batches += 1
        self._batch_seconds.observe(seconds)

    def snapshot(self) -> dict[str, int]:
        """The counters as a plain mapping (tests, the demo's status line)."""
        with self._lock:
            out = {
                "received": self.received,
                "processed": self.processed,
                "accepted": self.accepted,
                "duplicates": self.duplicates,
                "gaps": self.gaps,
                "batches": self.batches,
                "rejected": sum(self.rejected.values()),
                "projected": self.projected,
                "series_errors": self.series_errors,
                "series_dead_points": self.series_dead_points,
            }
        return out

    def read(self) -> tuple[dict[str, int], dict[str, int], float]:
        """Counters by attribute, rejections by reason and the last lag, taken together."""
        with self._lock:
            counters = {attribute: getattr(self, attribute) for attribute, _, _ in _COUNTERS}
            return counters, dict(self.rejected), self.lag_s


class _IngestCollector(Collector):
    """Reads :class:`IngestMetrics` at scrape time."""

    def __init__(self, metrics: IngestMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        counters, rejected, lag_s = self.metrics.read()
        for attribute, name, help_text in _COUNTERS:
            yield CounterMetricFamily(name, help_text, value=counters[attribute])
        by_reason = CounterMetricFamily(
            "fieldproof_ingest_rejected", "Messages refused, by reason.", labels=["reason"]
        )
        for reason, count in sorted(rejected.items()):
            by_reason.add_metric([reason], count)
        yield by_reason
        yield GaugeMetricFamily(
            "fieldproof_ingest_lag_seconds",
            "Receive-to-commit age of the oldest message in the last batch.",
            value=lag_s,
        )
        for name, read in sorted(dict(self.metrics.gauges).items()):
            try:
                reading = read()
            except Exception:  # a gauge must never break the scrape
                log.debug("gauge %s failed", name, exc_info=True)
                continue
            yield GaugeMetricFamily(name, GAUGE_HELP.get(name, name), value=reading)


class MetricsServer(RegistryServer):
    """``/metrics`` of one :class:`IngestMetrics` on ``host:port`` (port 0: a free one)."""

    def __init__(self, metrics: IngestMetrics, host: str, port: int) -> None:
        super().__init__(metrics.registry, host, port)
