"""PostgreSQL connections cut during a stream (backends terminated, as in a server
restart): the writer reconnects, retries its batch and every report is stored once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg

from aggregator.service import Aggregator
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import make_config, publish_all, wait_for
from tests.services.mosquitto import MosquittoBroker

TOTAL = 3_000


def test_writer_survives_terminated_connections(
    mosquitto: MosquittoBroker, postgres_url: str, tmp_path: Path
) -> None:
    devices = [new_device() for _ in range(6)]
    messages = [(d.topic, d.signed(s)) for s in range(1, TOTAL // 6 + 1) for d in devices]
    config = make_config(tmp_path, mosquitto.port, devices, ledger_url=postgres_url)
    aggregator = Aggregator(config)
    aggregator.start()

    def count(conn: psycopg.Connection[tuple[int, ...]]) -> int:
        row = conn.execute("SELECT COUNT(*) FROM reports").fetchone()
        return int(row[0]) if row else 0

    try:
        time.sleep(0.3)
        publisher = threading.Thread(target=publish_all, args=(mosquitto.port, messages))
        publisher.start()
        cuts = 0
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            for threshold in (500, 1_500):
                wait_for(lambda t=threshold: count(admin) >= t, 60, f"{threshold} stored")
                terminated = admin.execute(
                    "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).fetchone()
                assert terminated is not None
                cuts += int(terminated[0])
            publisher.join(60)
            wait_for(lambda: count(admin) >= TOTAL, 60, "all reports")
            time.sleep(0.5)
            row = admin.execute(
                "SELECT COUNT(*), COUNT(DISTINCT (device, seq)) FROM reports"
            ).fetchone()
        assert cuts >= 2
        assert row == (TOTAL, TOTAL)
    finally:
        aggregator.stop()
