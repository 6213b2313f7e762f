"""Prometheus metrics of the ingest path, served as text on ``/metrics``.

Counters: received, accepted, rejected by reason, duplicates, gaps, batches; gauges:
queue depth, projection lag; a histogram of batch commit latency. Written in the text
exposition format directly: a handful of numbers does not need a client library.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class IngestMetrics:
    """Thread-safe counters; ``render()`` gives the exposition text."""

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
        self.rejected: dict[str, int] = {}
        self._latency_counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self._latency_sum = 0.0
        self.gauges: dict[str, Callable[[], float]] = {}
        self.lag_s = 0.0

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
            self._latency_sum += seconds
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    self._latency_counts[i] += 1
                    break
            else:
                self._latency_counts[-1] += 1

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
            }
        return out

    def render(self) -> str:
        lines: list[str] = []

        def counter(name: str, help_text: str, value: float) -> None:
            lines.extend(
                [f"# HELP {name} {help_text}", f"# TYPE {name} counter", f"{name} {value}"]
            )

        with self._lock:
            counter("fieldproof_ingest_received_total", "Messages received.", self.received)
            counter("fieldproof_ingest_processed_total", "Messages committed.", self.processed)
            counter("fieldproof_ingest_accepted_total", "Reports stored.", self.accepted)
            counter("fieldproof_ingest_duplicates_total", "Reports seen before.", self.duplicates)
            counter("fieldproof_ingest_gaps_total", "Sequence gaps recorded.", self.gaps)
            counter(
                "fieldproof_ingest_status_updates_total", "Status messages.", self.status_updates
            )
            counter(
                "fieldproof_ingest_health_updates_total", "Health messages.", self.health_updates
            )
            counter("fieldproof_series_projected_total", "Rows projected.", self.projected)
            counter("fieldproof_series_errors_total", "Failed series writes.", self.series_errors)
            lines.append("# HELP fieldproof_ingest_rejected_total Messages refused, by reason.")
            lines.append("# TYPE fieldproof_ingest_rejected_total counter")
            for reason, value in sorted(self.rejected.items()):
                lines.append(f'fieldproof_ingest_rejected_total{{reason="{reason}"}} {value}')
            name = "fieldproof_ingest_batch_seconds"
            lines.append(f"# HELP {name} Time to verify and commit one batch.")
            lines.append(f"# TYPE {name} histogram")
            cumulative = 0
            for bound, n in zip(LATENCY_BUCKETS, self._latency_counts, strict=False):
                cumulative += n
                lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
            cumulative += self._latency_counts[-1]
            lines.append(f'{name}_bucket{{le="+Inf"}} {cumulative}')
            lines.append(f"{name}_sum {self._latency_sum}")
            lines.append(f"{name}_count {cumulative}")
            lines.append(
                "# HELP fieldproof_ingest_lag_seconds Receive-to-commit age of the "
                "oldest message in the last batch."
            )
            lines.append("# TYPE fieldproof_ingest_lag_seconds gauge")
            lines.append(f"fieldproof_ingest_lag_seconds {self.lag_s}")
            gauges = dict(self.gauges)
        for gauge, read in sorted(gauges.items()):
            try:
                reading = read()
            except Exception:  # a gauge must never break the scrape
                continue
            lines.extend([f"# TYPE {gauge} gauge", f"{gauge} {reading}"])
        return "\n".join(lines) + "\n"


class MetricsServer:
    """``GET /metrics`` on ``host:port`` (port 0: a free one, see :attr:`port`)."""

    def __init__(self, metrics: IngestMetrics, host: str, port: int) -> None:
        source = metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = source.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics-http", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
