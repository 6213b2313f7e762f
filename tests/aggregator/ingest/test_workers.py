"""``ingest.verify_workers``: reports decoded and verified in worker processes give the
same outcome as verifying in the receiving thread (real Mosquitto)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from aggregator.errors import AggregatorValueError
from aggregator.ledger import open_ledger
from aggregator.registry.static import StaticKeySource
from aggregator.service import Aggregator
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import make_config, publish_all, wait_for
from tests.services.mosquitto import MosquittoBroker


def test_worker_verification_stores_and_refuses_as_inline(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    devices = [new_device(), new_device()]
    stranger = new_device()
    config = make_config(tmp_path, mosquitto.port, devices, verify_workers=2)
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        time.sleep(0.3)
        messages = [(d.topic, d.signed(s)) for s in range(1, 151) for d in devices]
        messages += [
            messages[10],  # replay: duplicate
            (devices[0].topic, devices[0].signed(5)),  # same seq, new bytes
            (stranger.topic, stranger.signed(1)),
            (devices[1].topic, b"\xa0"),
            (devices[1].topic, devices[0].signed(200)),  # another device's topic
        ]
        publish_all(mosquitto.port, messages)
        wait_for(lambda: aggregator.metrics.snapshot()["processed"] >= 305, 60, "all messages")
        ledger = open_ledger(config.ledger.url)
        assert ledger.count_reports() == 300
        assert ledger.dead_letter_counts() == {
            "seq_reused": 1,
            "unknown_device": 1,
            "malformed": 1,
            "wrong_topic": 1,
        }
        assert aggregator.metrics.snapshot()["duplicates"] == 1
    finally:
        aggregator.stop()


def test_a_killed_verify_worker_is_replaced_and_nothing_is_lost(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    device = new_device()
    config = make_config(tmp_path, mosquitto.port, [device], verify_workers=1)
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        assert aggregator.pool is not None
        publish_all(mosquitto.port, [(device.topic, device.signed(s)) for s in range(1, 51)])
        ledger = open_ledger(config.ledger.url)
        wait_for(lambda: ledger.count_reports() == 50, 30, "first half")
        for pid in aggregator.pool.pids():
            os.kill(pid, signal.SIGKILL)
        publish_all(mosquitto.port, [(device.topic, device.signed(s)) for s in range(51, 101)])
        wait_for(lambda: ledger.count_reports() == 100, 60, "second half after the kill")
        assert aggregator.pool.restarts >= 1
        assert aggregator.alive()
        assert ledger.device_head(device.device_id) == 100
    finally:
        aggregator.stop()


def test_workers_need_the_configured_key_source(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1883, [], verify_workers=1)
    with pytest.raises(AggregatorValueError, match="verify_workers"):
        Aggregator(config, key_source=StaticKeySource())
