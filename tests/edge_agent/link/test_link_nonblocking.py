"""A broker that accepts TCP but never answers must not slow the producer down."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from edge_agent.link import DeviceTopics, LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from fieldproof.wire import Record, Report, sign_report


def test_silent_broker_does_not_block_submits(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])  # and never reply
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    key = DeviceKey.generate()
    topics = DeviceTopics.for_device_id(key.device_id)
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    config = parse_config(LinkConfig, {"url": f"mqtt://127.0.0.1:{port}", "keepalive_s": 5})
    link = ReportLink(config, outbox, topics, signer=key)
    link.start()
    try:
        deadline = time.monotonic() + 5
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        assert accepted, "the link never tried to connect"
        slowest = 0.0
        for _ in range(100):
            started = time.perf_counter()
            outbox.append(
                lambda seq: sign_report(
                    Report(key.device_id, seq, 0, 60, (Record("temperature", value=1.0),)), key
                )
            )
            link.notify()
            link.publish_health({"ok": True})
            slowest = max(slowest, time.perf_counter() - started)
        # One durable SQLite commit and a signature: milliseconds, never a network wait.
        assert slowest < 2.0
        assert not link.mqtt.connected
        assert outbox.stats().depth == 100
    finally:
        started = time.perf_counter()
        link.stop()
        assert time.perf_counter() - started < 10
        stop.set()
        thread.join(5)
        for connection in accepted:
            connection.close()
        server.close()
