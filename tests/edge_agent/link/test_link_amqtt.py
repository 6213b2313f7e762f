"""The link's MQTT 3.1.1 mode against the in-process amqtt broker (which has no MQTT 5)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.link import DeviceTopics, LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from fieldproof.wire import Record, Report, decode_report, sign_report
from tests.services.ports import free_port, port_open, wait_until


@pytest.fixture
def amqtt_port() -> Iterator[int]:
    from amqtt.broker import Broker

    port = free_port()
    holder: dict[str, object] = {}
    ready = threading.Event()

    async def serve() -> None:
        stop = asyncio.Event()
        holder["stop"], holder["loop"] = stop, asyncio.get_running_loop()
        broker = Broker({"listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}}})
        await broker.start()
        ready.set()
        await stop.wait()
        await broker.shutdown()

    thread = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    thread.start()
    assert ready.wait(15)
    wait_until(lambda: port_open(port), 10.0, "amqtt")
    yield port
    loop, stop = holder["loop"], holder["stop"]
    assert isinstance(loop, asyncio.AbstractEventLoop)
    assert isinstance(stop, asyncio.Event)
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)


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
        LinkConfig, {"url": f"mqtt://127.0.0.1:{amqtt_port}", "protocol": "3.1.1"}
    )
    outbox = Outbox(OutboxConfig(path=tmp_path / "outbox.sqlite"))
    link = ReportLink(config, outbox, topics)
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
    assert b'"online"' in statuses[0]
