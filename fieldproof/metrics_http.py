"""``/metrics`` over HTTP for one service's own Prometheus registry.

Each service instance keeps its own :class:`prometheus_client.CollectorRegistry` (never
the process-global one), so tests and the demo can run several side by side.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server


class MetricsServer:
    """Serves ``registry`` on ``host:port`` from a daemon thread (port 0: a free one)."""

    def __init__(self, registry: CollectorRegistry, host: str, port: int) -> None:
        self.registry = registry
        self.host = host
        self._port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the chosen one when started with port 0)."""
        if self._server is None:
            return self._port
        return int(self._server.server_address[1])

    def start(self) -> None:
        if self._server is None:
            self._server, self._thread = start_http_server(
                self._port, addr=self.host, registry=self.registry
            )

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
