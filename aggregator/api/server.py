"""Serve the API with uvicorn in a background thread (the aggregator, the demo, tests)."""

from __future__ import annotations

import threading
import time

import uvicorn
from fastapi import FastAPI

from aggregator.errors import AggregatorError


class ApiServer:
    """``start()`` returns once the socket listens; ``port`` is the bound port."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="api-server", daemon=True)
        self.port = port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise AggregatorError(f"API server on {self.host}:{self.port} did not start")
            time.sleep(0.02)
        sockets = [s for server in self._server.servers for s in server.sockets]
        if sockets:
            self.port = int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    @property
    def running(self) -> bool:
        """True while the thread works (False before start and after it ended)."""
        return self._thread is not None and self._thread.is_alive()
