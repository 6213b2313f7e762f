"""The in-process aggregator against a real Mosquitto: store, ack, status, series, metrics."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import paho.mqtt.client as mqtt

from aggregator.ledger import open_ledger
from aggregator.series import open_series
from aggregator.service import Aggregator
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import make_config, publish_all, wait_for
from tests.services.mosquitto import MosquittoBroker


def test_reports_are_stored_projected_and_counted(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    devices = [new_device() for _ in range(3)]
    config = make_config(tmp_path, mosquitto.port, devices)
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        messages = [(d.topic, d.signed(seq)) for seq in range(1, 51) for d in devices]
        messages.append(messages[3 * 6])  # the same bytes again: a replay
        messages.append((devices[0].topic, b"\x00garbage"))
        publish_all(mosquitto.port, messages)
        wait_for(lambda: aggregator.metrics.snapshot()["processed"] >= 152, 20, "all messages")
        ledger = open_ledger(config.ledger.url)
        assert ledger.count_reports() == 150
        assert aggregator.metrics.snapshot()["duplicates"] == 1
        assert ledger.dead_letter_counts() == {"malformed": 1}
        wait_for(lambda: aggregator.metrics.snapshot()["projected"] >= 150, 20, "projection")
        series = open_series(config.series.url)
        now = time.time()
        points = series.series("temp", [devices[1].hex], now - 86_400, now + 60)
        assert len(points) == 50
        assert aggregator.metrics_server is not None
        url = f"http://127.0.0.1:{aggregator.metrics_server.port}/metrics"
        with urllib.request.urlopen(url) as response:
            text = response.read().decode()
        assert "fieldproof_ingest_accepted_total 150" in text
        assert 'fieldproof_ingest_rejected_total{reason="malformed"} 1' in text
        assert "fieldproof_ingest_batch_seconds_count" in text
        assert "fieldproof_ingest_lag_seconds" in text
        assert "fieldproof_series_lag_rows" in text
        # Liveness (the watchdog's food) follows the role threads: a dead writer ends it.
        assert aggregator.alive()
        assert aggregator.writer is not None
        aggregator.writer.stop()
        assert not aggregator.alive()
    finally:
        aggregator.stop()


def test_status_and_health_update_the_device(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    device = new_device()
    config = make_config(tmp_path, mosquitto.port, [device])
    status_topic = f"fp/v1/{device.hex}/status"
    # Retained before the aggregator starts: it must still learn the state.
    publish_all(mosquitto.port, [])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    client.publish(status_topic, b'{"state": "online"}', qos=1, retain=True).wait_for_publish(5)
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        ledger = open_ledger(config.ledger.url)
        wait_for(lambda: ledger.device_status(device.device_id) is not None, 10, "status")
        document = {"device": device.hex, "at": 1.0, "uptime_s": 2.0, "outbox_depth": 3}
        health = json.dumps(document).encode()
        # A heartbeat that is not the documented schema is a dead letter, never stored.
        bad = json.dumps({"cpu": 0.25}).encode()
        client.publish(f"fp/v1/{device.hex}/health", bad, qos=1).wait_for_publish(5)
        client.publish(f"fp/v1/{device.hex}/health", health, qos=1).wait_for_publish(5)
        client.publish(status_topic, b'{"state": "offline"}', qos=1, retain=True).wait_for_publish(
            5
        )

        def settled() -> bool:
            status = ledger.device_status(device.device_id)
            return status is not None and status.state == "offline" and status.health is not None

        wait_for(settled, 10, "health and offline status")
        status = ledger.device_status(device.device_id)
        assert status is not None
        assert json.loads(status.health or "") == document
        [dead] = [d for d in ledger.dead_letters() if d.topic.endswith("/health")]
        assert dead.reason == "malformed"
        assert "health: device" in dead.detail
        assert status.last_seen is not None
    finally:
        aggregator.stop()
        client.loop_stop()
