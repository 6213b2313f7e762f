"""The link's MQTT 3.1.1 mode against the in-process amqtt broker (which has no MQTT 5)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.link import DeviceTopics, LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from fieldproof.wire import Record, Report, decode_report, sign_report, verify_document


def test_v311_mode_publishes_to_amqtt(amqtt_port: int, tmp_path: Path) -> None:
    key = DeviceKey.generate()
    topics = DeviceTopics.for_device_id(key.device_id)
    seqs: set[int] = set()
    statuses: list[bytes] = []
    subscribed = threading.Event()
    done = threading.Event()
    total = 200

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == topics.status:
            statuses.append(bytes(message.payload))
            return
        seqs.add(decode_report(bytes(message.payload)).report.seq)
        if len(seqs) == total:
            done.set()

    subscriber = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="sub", protocol=mqtt.MQTTv311)
    subscriber.on_connect = lambda c, *a: c.subscribe([(topics.report, 1), (topics.status, 1)])
    subscriber.on_subscribe = lambda *a: subscribed.set()
    subscriber.on_message = on_message
    subscriber.connect("127.0.0.1", amqtt_port)
    subscriber.loop_start()
    assert subscribed.wait(10)

    config = parse_config(
        LinkConfig,
        # No aggregator here to ack from its ledger: the broker's PUBACK deletes.
        {"url": f"mqtt://127.0.0.1:{amqtt_port}", "protocol": "3.1.1", "delete_on": "broker"},
    )
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    link = ReportLink(config, outbox, topics, signer=key)
    link.start()
    try:
        assert link.mqtt.wait_connected(10), link.state()
        for _ in range(total):
            outbox.append(
                lambda seq: sign_report(
                    Report(key.device_id, seq, 0, 60, (Record("temperature", value=3.0),)), key
                )
            )
            link.notify()
        assert done.wait(30), f"got {len(seqs)} of {total}"
        assert link.wait_drained(10)
    finally:
        link.stop()
        subscriber.loop_stop()
    assert seqs == set(range(1, total + 1))
    assert json.loads(verify_document(statuses[0], key.public_key))["state"] == "online"
