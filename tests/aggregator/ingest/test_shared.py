"""Two aggregator processes in one shared-subscription group on one PostgreSQL ledger:
every report is stored once and both processes take a share of the load."""

from __future__ import annotations

import re
import signal
import urllib.request
from pathlib import Path

import psycopg

from tests.aggregator.reports import new_device
from tests.aggregator.runtime import (
    await_subscription,
    config_dict,
    publish_all,
    spawn_aggregator,
    wait_for,
    write_config,
)
from tests.services.mosquitto import MosquittoBroker
from tests.services.ports import free_port

TOTAL = 4_000
DEVICES = 10


def accepted(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    match = re.search(r"^fieldproof_ingest_accepted_total (\d+)", text, re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def test_two_processes_split_the_load_and_store_each_report_once(
    mosquitto: MosquittoBroker, postgres_url: str, tmp_path: Path
) -> None:
    devices = [new_device() for _ in range(DEVICES)]
    messages = [(d.topic, d.signed(s)) for s in range(1, TOTAL // DEVICES + 1) for d in devices]

    def count() -> int:
        with psycopg.connect(postgres_url) as conn:
            exists = conn.execute("SELECT to_regclass('reports')").fetchone()
            if exists is None or exists[0] is None:
                return 0
            row = conn.execute("SELECT COUNT(*) FROM reports").fetchone()
            return int(row[0]) if row else 0

    processes = []
    ports = []
    try:
        for name in ("agg-a", "agg-b"):
            data = config_dict(
                tmp_path, mosquitto.port, devices, ledger_url=postgres_url, client_id=name
            )
            ports.append(free_port())
            data["metrics"]["port"] = ports[-1]
            config = write_config(tmp_path / f"{name}.yaml", data)
            processes.append(spawn_aggregator(config, tmp_path / f"{name}.log"))
            # Each process proves its own subscription before the stream starts.
            await_subscription(mosquitto.port, messages[0], lambda: count() == 1)
        wait_for(lambda: all(_serving(p) for p in ports), 30, "both metrics endpoints")
        publish_all(mosquitto.port, messages[1:])
        wait_for(lambda: count() >= TOTAL, 120, "all reports in PostgreSQL")
        with psycopg.connect(postgres_url) as conn:
            row = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT (device, seq)) FROM reports"
            ).fetchone()
        assert row == (TOTAL, TOTAL)
        shares = [accepted(port) for port in ports]
        print(f"reports stored by each process: {shares}")
        assert sum(shares) == TOTAL
        assert min(shares) > TOTAL // 10, shares
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(15)
            except Exception:
                process.kill()


def _serving(port: int) -> bool:
    try:
        accepted(port)
    except OSError:
        return False
    return True
