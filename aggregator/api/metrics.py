"""Prometheus text exposition of the API's own counters and the ledger's totals."""

from __future__ import annotations

import threading
from collections import Counter


def _labels(**labels: str) -> str:
    body = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in labels.items()
    )
    return "{" + body + "}"


class ApiMetrics:
    """Request counts and latencies by route, and rate-limit refusals by client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[tuple[str, str, str]] = Counter()
        self.seconds: dict[str, float] = {}
        self.limited: Counter[str] = Counter()

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(route, method, str(status))] += 1
            self.seconds[route] = self.seconds.get(route, 0.0) + seconds

    def refused(self, client: str) -> None:
        with self._lock:
            self.limited[client] += 1

    def render(self, gauges: dict[str, tuple[str, list[tuple[dict[str, str], float]]]]) -> str:
        """The exposition text; ``gauges`` maps a name to (help, [(labels, value)])."""
        lines = [
            "# HELP fieldproof_api_requests_total HTTP requests answered.",
            "# TYPE fieldproof_api_requests_total counter",
        ]
        with self._lock:
            for (route, method, status), count in sorted(self.requests.items()):
                text = _labels(route=route, method=method, status=status)
                lines.append(f"fieldproof_api_requests_total{text} {count}")
            lines += [
                "# HELP fieldproof_api_request_seconds_total Time spent answering, by route.",
                "# TYPE fieldproof_api_request_seconds_total counter",
            ]
            for route, seconds in sorted(self.seconds.items()):
                lines.append(
                    f"fieldproof_api_request_seconds_total{_labels(route=route)} {seconds:.6f}"
                )
            lines += [
                "# HELP fieldproof_api_rate_limited_total Requests refused by a rate limit.",
                "# TYPE fieldproof_api_rate_limited_total counter",
            ]
            for client, count in sorted(self.limited.items()):
                lines.append(f"fieldproof_api_rate_limited_total{_labels(client=client)} {count}")
        for name, (help_text, samples) in gauges.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
            for labels, value in samples:
                lines.append(f"{name}{_labels(**labels) if labels else ''} {value:g}")
        return "\n".join(lines) + "\n"
