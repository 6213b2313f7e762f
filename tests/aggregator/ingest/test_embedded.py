"""The embedded path: Aggregator.start()/stop() in-process, MQTT 3.1.1, SQLite, against
an in-process amqtt broker (which speaks no MQTT 5)."""

from __future__ import annotations

import time
from pathlib import Path

import paho.mqtt.client as mqtt

from aggregator.ledger import open_ledger
from aggregator.registry.static import StaticKeySource
from aggregator.service import Aggregator
from tests.aggregator.reports import new_device
from tests.aggregator.runtime import make_config, publish_all, wait_for


def test_embedded_aggregator_on_the_in_process_broker(amqtt_port: int, tmp_path: Path) -> None:
    devices = [new_device(), new_device()]
    config = make_config(tmp_path, amqtt_port, [], protocol="3.1.1", client_id="embedded")
    aggregator = Aggregator(config, key_source=StaticKeySource([d.key.public_key for d in devices]))
    aggregator.start()
    try:
        time.sleep(0.3)  # the subscription is made right after the connection
        messages = [(d.topic, d.signed(seq)) for seq in range(1, 101) for d in devices]
        publish_all(amqtt_port, messages, protocol=mqtt.MQTTv311)
        wait_for(lambda: aggregator.metrics.snapshot()["accepted"] >= 200, 30, "200 reports")
        ledger = open_ledger(config.ledger.url)
        assert ledger.count_reports() == 200
        assert ledger.device_heads() == {d.device_id: 100 for d in devices}
    finally:
        aggregator.stop()
    assert aggregator.wait(0)
