"""SIGKILL during a 10,000-report stream: after restarts the ledger holds each report once.

The aggregator runs as ``python -m aggregator run`` in a subprocess and is killed (no
clean shutdown) three times while reports stream in. Reports are acknowledged only after
their batch commits and the broker keeps the persistent session's unacknowledged and
queued messages, so nothing is lost; the ledger's unique (device, seq) keeps redelivered
ones from being stored twice.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests.aggregator.reports import new_device
from tests.aggregator.runtime import (
    REPO,
    await_subscription,
    config_dict,
    publish_all,
    spawn_aggregator,
    wait_for,
    write_config,
)
from tests.services.mosquitto import MosquittoBroker

TOTAL = 10_000
DEVICES = 20
KILL_AT = (1_500, 4_500, 7_500)


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM reports").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.parametrize("verify_workers", [0, 1], ids=["inline", "worker"])
def test_sigkill_during_stream_loses_and_doubles_nothing(
    mosquitto: MosquittoBroker, tmp_path: Path, verify_workers: int
) -> None:
    devices = [new_device() for _ in range(DEVICES)]
    per_device = TOTAL // DEVICES
    # Pre-signed, so the publisher is only limited by the broker.
    messages = [(d.topic, d.signed(seq)) for seq in range(1, per_device + 1) for d in devices]
    db = tmp_path / "ledger.db"
    config = write_config(
        tmp_path / "aggregator.yaml",
        config_dict(
            tmp_path,
            mosquitto.port,
            devices,
            ledger_url=f"sqlite:///{db}",
            client_id="agg-crash",
            verify_workers=verify_workers,
        ),
    )
    log = tmp_path / "aggregator.log"
    process = spawn_aggregator(config, log)
    try:
        # The first report proves the subscription (and its session) exists.
        await_subscription(mosquitto.port, messages[0], lambda: stored(db) == 1)
        publisher = threading.Thread(target=publish_all, args=(mosquitto.port, messages[1:]))
        publisher.start()
        kills = 0
        for threshold in KILL_AT:
            wait_for(lambda t=threshold: stored(db) >= t, 120, f"{threshold} stored")
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            kills += 1
            time.sleep(0.2)
            process = spawn_aggregator(config, log)
        publisher.join(120)
        assert not publisher.is_alive()
        wait_for(lambda: stored(db) >= TOTAL, 180, "all reports")
        time.sleep(1.0)  # anything redelivered late must still not be stored twice
        with sqlite3.connect(db) as conn:
            count, distinct = conn.execute(
                "SELECT COUNT(*), COUNT(DISTINCT hex(device) || ':' || seq) FROM reports"
            ).fetchone()
            per = dict(conn.execute("SELECT hex(device), COUNT(*) FROM reports GROUP BY device"))
        assert kills == 3
        assert (count, distinct) == (TOTAL, TOTAL)
        assert sorted(per.values()) == [per_device] * DEVICES
        if verify_workers:
            # The killed processes' verify workers noticed and went away.
            wait_for(lambda: len(orphans(tmp_path)) == 0, 10, "orphaned workers to exit")
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except Exception:
            process.kill()


def orphans(tmp_path: Path) -> list[int]:
    """Worker processes of this test's aggregators that outlived their parent."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if b"spawn_main" in cmdline and stat[1] == "1" and (proc / "cwd").resolve() == REPO:
            found.append(int(proc.name))
    return found
