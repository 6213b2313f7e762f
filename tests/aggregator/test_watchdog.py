"""Stall detection: a role whose loop stops making progress while work waits withholds
systemd's watchdog ping; an idle role does not."""

from __future__ import annotations

import sqlite3
import time
import urllib.request
from pathlib import Path

from aggregator.config import AggregatorConfig
from aggregator.ledger import open_ledger
from aggregator.progress import ProgressWatch
from aggregator.service import Aggregator
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import config_dict, publish_all, wait_for
from tests.services.mosquitto import MosquittoBroker


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_watch_stalls_only_past_its_limit_and_recovers() -> None:
    clock = FakeClock()
    watch = ProgressWatch("ingest", 10.0, clock=clock)
    clock.now += 9.9
    assert not watch.stalled()
    clock.now += 0.2
    assert watch.stalled()
    assert abs(watch.silent_s() - 10.1) < 1e-9
    watch.progressed()
    assert not watch.stalled()
    assert watch.silent_s() == 0.0


def _config(
    tmp_path: Path, port: int, stall_s: float, projection_stall_s: float | None = None
) -> AggregatorConfig:
    data = config_dict(tmp_path, port, [DEVICE])
    data["watchdog"] = {
        "ingest_stall_s": stall_s,
        "projection_stall_s": projection_stall_s or stall_s,
    }
    return AggregatorConfig.model_validate(data)


DEVICE = new_device()


def test_idle_roles_are_not_stalled(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    aggregator = Aggregator(_config(tmp_path, mosquitto.port, 0.5))
    aggregator.start()
    try:
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            assert aggregator.alive(), aggregator.stalled_roles()
            time.sleep(0.1)
    finally:
        aggregator.stop()


def test_a_commit_that_cannot_finish_stalls_ingest_until_it_can(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    # The lock below blocks the projection's reads too; only ingest is watched here.
    aggregator = Aggregator(_config(tmp_path, mosquitto.port, 1.5, projection_stall_s=120))
    aggregator.start()
    ledger = open_ledger(f"sqlite:///{tmp_path}/ledger.db", migrate=False)
    blocker = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    try:
        publish_all(mosquitto.port, [(DEVICE.topic, DEVICE.signed(1))])
        wait_for(lambda: ledger.count_reports() == 1, 15, "the first report")
        # Another writer holds the database: the next commit waits and retries.
        blocker.execute("BEGIN EXCLUSIVE")
        publish_all(mosquitto.port, [(DEVICE.topic, DEVICE.signed(2))])
        wait_for(lambda: not aggregator.alive(), 15, "ingest to count as stalled")
        assert aggregator.stalled_roles() == ["ingest"]
        assert aggregator.metrics_server is not None
        with urllib.request.urlopen(
            f"http://127.0.0.1:{aggregator.metrics_server.port}/metrics", timeout=5
        ) as r:
            scrape = r.read().decode()
        silent = next(
            float(line.split()[1])
            for line in scrape.splitlines()
            if line.startswith("fieldproof_ingest_silent_seconds ")
        )
        assert silent > 1.5
        blocker.execute("ROLLBACK")
        wait_for(lambda: ledger.count_reports() == 2, 30, "the held report")
        wait_for(aggregator.alive, 10, "ingest to count as alive again")
    finally:
        blocker.close()
        ledger.close()
        aggregator.stop()
