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
from edge_agent.link.config import LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.config import parse_config
from fieldproof.protocol import DeviceTopics
from fieldproof.wire import sign_document
from tests.aggregator.reports import Device, new_device
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


def _signed(document: dict[str, object], device: Device) -> bytes:
    return sign_document(json.dumps(document).encode(), device.key)


def _status(state: str, session: str = "test", at: float | None = None) -> dict[str, object]:
    return {"state": state, "at": time.time() if at is None else at, "session": session}


def test_status_and_health_update_the_device(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    device = new_device()
    config = make_config(tmp_path, mosquitto.port, [device])
    status_topic = f"fp/v1/{device.hex}/status"
    health_topic = f"fp/v1/{device.hex}/health"
    # Retained before the aggregator starts: it must still learn the state.
    publish_all(mosquitto.port, [])
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    online = _signed(_status("online"), device)
    client.publish(status_topic, online, qos=1, retain=True).wait_for_publish(5)
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        ledger = open_ledger(config.ledger.url)
        wait_for(lambda: ledger.device_status(device.device_id) is not None, 10, "status")
        document = {"device": device.hex, "at": time.time(), "uptime_s": 2.0, "outbox_depth": 3}
        # A signed heartbeat that is not the documented schema is a dead letter.
        bad = _signed({"cpu": 0.25}, device)
        client.publish(health_topic, bad, qos=1).wait_for_publish(5)
        # Plain JSON, or signed by another key, is refused even from a registered device.
        client.publish(health_topic, json.dumps(document).encode(), qos=1).wait_for_publish(5)
        forged = _signed(document, new_device())
        client.publish(health_topic, forged, qos=1).wait_for_publish(5)
        tampered = bytearray(_signed(document, device))
        tampered[-1] ^= 1
        client.publish(health_topic, bytes(tampered), qos=1).wait_for_publish(5)
        client.publish(health_topic, _signed(document, device), qos=1).wait_for_publish(5)
        # The same heartbeat again, and one signed an hour ago: replays, refused.
        client.publish(health_topic, _signed(document, device), qos=1).wait_for_publish(5)
        old = {**document, "at": time.time() - 3600}
        client.publish(health_topic, _signed(old, device), qos=1).wait_for_publish(5)
        offline = _signed(_status("offline"), device)
        client.publish(status_topic, offline, qos=1, retain=True).wait_for_publish(5)

        def settled() -> bool:
            status = ledger.device_status(device.device_id)
            return status is not None and status.state == "offline" and status.health is not None

        wait_for(settled, 10, "health and offline status")
        wait_for(lambda: len(ledger.dead_letters()) >= 6, 10, "refused heartbeats")
        status = ledger.device_status(device.device_id)
        assert status is not None
        assert json.loads(status.health or "") == document
        assert ledger.count_health() == 1
        dead = {d.reason: d for d in ledger.dead_letters() if d.topic == health_topic}
        assert set(dead) == {
            "malformed",
            "unsigned",
            "device_mismatch",
            "bad_signature",
            "timestamp_too_old",
        }
        assert "health: device" in dead["malformed"].detail
        assert ledger.dead_letter_counts()["timestamp_too_old"] == 2
        assert status.last_seen is not None
        assert aggregator.metrics.snapshot()["rejected"] == 6
    finally:
        aggregator.stop()
        client.loop_stop()


def test_an_unknown_device_never_appears(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    known, stranger = new_device(), new_device()
    config = make_config(tmp_path, mosquitto.port, [known])
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        beat = {"device": stranger.hex, "at": time.time(), "uptime_s": 2.0}
        publish_all(
            mosquitto.port,
            [
                (f"fp/v1/{stranger.hex}/health", _signed(beat, stranger)),
                (f"fp/v1/{stranger.hex}/status", _signed(_status("online"), stranger)),
                (f"fp/v1/{stranger.hex}/health", json.dumps(beat).encode()),
            ],
        )
        ledger = open_ledger(config.ledger.url)
        wait_for(lambda: len(ledger.dead_letters()) >= 3, 10, "dead letters")
        assert ledger.dead_letter_counts() == {"unknown_device": 2, "unsigned": 1}
        assert stranger.device_id not in {d.device_id for d in ledger.devices()}
        assert ledger.device_status(stranger.device_id) is None
        assert ledger.count_health() == 0
        assert aggregator.metrics_server is not None
        url = f"http://127.0.0.1:{aggregator.metrics_server.port}/metrics"
        with urllib.request.urlopen(url) as response:
            text = response.read().decode()
        assert 'fieldproof_ingest_rejected_total{reason="unknown_device"} 2' in text
    finally:
        aggregator.stop()


def test_the_agents_signed_will_is_accepted(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    device = new_device()
    config = make_config(tmp_path, mosquitto.port, [device])
    topics = DeviceTopics.for_device_id(device.device_id)
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    link_config = parse_config(LinkConfig, {"url": f"mqtt://127.0.0.1:{mosquitto.port}"})
    link = ReportLink(link_config, outbox, topics, signer=device.key)
    will = link.mqtt._broker.spec.will
    assert will is not None
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
    aggregator = Aggregator(config)
    aggregator.start()
    try:
        ledger = open_ledger(config.ledger.url)

        def state() -> str | None:
            status = ledger.device_status(device.device_id)
            return None if status is None else status.state

        link.start()
        wait_for(lambda: state() == "online", 10, "the agent's online status")
        link.stop()
        wait_for(lambda: state() == "offline", 10, "the agent's offline status")
        client.connect("127.0.0.1", mosquitto.port)
        client.loop_start()
        # The agent's own session comes back (its will was signed at its start).
        online = _signed(_status("online", link.session), device)
        client.publish(topics.status, online, qos=1, retain=True)
        wait_for(lambda: state() == "online", 10, "online again")
        client.loop_stop()
        # A connection that dies without DISCONNECT: the broker publishes the agent's will.
        sock = client.socket()
        assert sock is not None
        sock.close()
        wait_for(lambda: state() == "offline", 10, "the will")
        assert ledger.dead_letters() == []
        # A copy of an older session's online status, replayed later, is refused.
        replayed = _signed(_status("online", "earlier", at=time.time() - 600), device)
        client.reconnect()
        client.loop_start()
        client.publish(topics.status, replayed, qos=1).wait_for_publish(5)
        wait_for(lambda: len(ledger.dead_letters()) == 1, 10, "the replay refused")
        assert ledger.dead_letters()[0].reason == "timestamp_too_old"
        assert state() == "offline"
        client.disconnect()
        client.loop_stop()
    finally:
        link.stop()
        aggregator.stop()
        outbox.close()
