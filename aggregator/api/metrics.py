"""Prometheus metrics of the API: its own request counters and the ledger's totals.

Everything is read at scrape time from one registry per API instance; the ledger
gauges come from ``gauges``, a function the app sets once it has its sources.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# name → (help, [(labels, value)])
GaugeTable = dict[str, tuple[str, list[tuple[dict[str, str], float]]]]


def _no_gauges() -> GaugeTable:
    return {}


class ApiMetrics:
    """Request counts and latencies by route, and rate-limit refusals by client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.seconds: dict[str, float] = {}
        self.limited: Counter[str] = Counter()
        self.gauges: Callable[[], GaugeTable] = _no_gauges
        self.registry = CollectorRegistry()
        self.registry.register(_ApiCollector(self))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, str(status))] += 1
            self.seconds[route] = self.seconds.get(route, 0.0) + seconds

    def refused(self, client: str) -> None:
        with self._lock:
            self.limited[client] += 1

    def read(
        self,
    ) -> tuple[dict[tuple[str, str, str], int], dict[str, float], dict[str, int]]:
        """Copies of the counters, taken together."""
        with self._lock:
            return dict(self.requests), dict(self.seconds), dict(self.limited)

    def render(self) -> bytes:
        """The exposition of :attr:`registry` (Prometheus text format)."""
        return generate_latest(self.registry)


class _ApiCollector(Collector):
    def __init__(self, metrics: ApiMetrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        requests, seconds, limited = self.metrics.read()
        answered = CounterMetricFamily(
            "fieldproof_api_requests",
            "HTTP requests answered.",
            labels=["route", "method", "status"],
        )
        for key, count in sorted(requests.items()):
            answered.add_metric(list(key), count)
        yield answered
        spent = CounterMetricFamily(
            "fieldproof_api_request_seconds",
            "Time spent answering, by route.",
            labels=["route"],
        )
        for route, total in sorted(seconds.items()):
            spent.add_metric([route], total)
        yield spent
        refused = CounterMetricFamily(
            "fieldproof_api_rate_limited",
            "Requests refused by a rate limit.",
            labels=["client"],
        )
        for client, count in sorted(limited.items()):
            refused.add_metric([client], count)
        yield refused
        for name, (help_text, samples) in self.metrics.gauges().items():
            labelnames = sorted({key for labels, _ in samples for key in labels})
            family = GaugeMetricFamily(name, help_text, labels=labelnames)
            for labels, value in samples:
                family.add_metric([labels.get(key, "") for key in labelnames], value)
            yield family
