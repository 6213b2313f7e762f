"""Link throughput: outbox backlog replay to a local Mosquitto, against a raw paho loop.

* ``backlog_1440_s`` — 24 h of one-minute reports (1,440) stored while the broker was
  unreachable, then the link started: seconds until every one is acknowledged end to end
  (the receiver's ack, not the broker's PUBACK) and deleted from the outbox.
* ``publish_per_s`` — the same replay with a larger backlog (``--reports``): reports
  acknowledged and deleted per second.
* ``raw_paho_per_s`` — baseline in the same run: one paho client publishing the same
  payloads at QoS 1 with the same in-flight window, no outbox, counting PUBACKs.
* ``append_per_s`` — durable writes (seq allocation + commit with fsync) per second.

The broker is started from the ``mosquitto`` binary with the settings we ship
(``set_tcp_nodelay``, 1000 in flight, 100,000 queued). A QoS 1 subscriber checks that every
report arrived and, like the aggregator after each commit, acks what it holds every
20 ms. Usage: ``python bench/link.py [--json] [--reports N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from demo.broker import free_port
from edge_agent.link import DeviceTopics, LinkConfig
from edge_agent.link.session import ReportLink
from edge_agent.outbox import Outbox, OutboxConfig
from fieldproof.identity import DeviceKey
from fieldproof.protocol import build_acks, encode_ack
from fieldproof.wire import Record, Report, decode_report, sign_report

WINDOW = 100


class Broker:
    def __init__(self, directory: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(binary).exists():
            sys.exit("mosquitto not found; install it with: apt-get install mosquitto")
        self.port = free_port()
        config = directory / "mosquitto.conf"
        config.write_text(
            ("user root\n" if os.geteuid() == 0 else "")
            + f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
            "set_tcp_nodelay true\nmax_inflight_messages 1000\nmax_queued_messages 100000\n"
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        sys.exit("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


class Counter:
    """A QoS 1 subscriber counting distinct deliveries, standing in for the aggregator:
    every ``ACK_EVERY_S`` it acks what it holds, as the ledger acks after each commit."""

    ACK_EVERY_S = 0.02

    def __init__(self, port: int, topic: str, ack_topic: str) -> None:
        self.seen: set[bytes] = set()
        self._seqs: set[int] = set()
        self._through = 0
        self._ack_topic = ack_topic
        self._lock = threading.Lock()
        self._stop = threading.Event()
        ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"count-{port}-{topic}")
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *a: ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        ready.wait(10)
        self._acker = threading.Thread(target=self._ack_loop, daemon=True)
        self._acker.start()

    def _on_message(self, client: Any, userdata: Any, message: mqtt.MQTTMessage) -> None:
        seq = decode_report(bytes(message.payload)).report.seq
        with self._lock:
            self.seen.add(bytes(message.payload))
            self._seqs.add(seq)
            while self._through + 1 in self._seqs:
                self._through += 1

    def _ack_loop(self) -> None:
        sent: tuple[int, int] = (0, 0)
        while not self._stop.wait(self.ACK_EVERY_S):
            with self._lock:
                through = self._through
                above = sorted(s for s in self._seqs if s > through)
            if (through, len(above)) == sent:
                continue
            for ack in build_acks(through, above):
                self.client.publish(self._ack_topic, encode_ack(ack), qos=1)
            sent = (through, len(above))

    def wait(self, count: int, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while len(self.seen) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        self._stop.set()
        self._acker.join(5)
        self.client.loop_stop()
        self.client.disconnect()
        return len(self.seen)


def signed_reports(key: DeviceKey, count: int) -> list[bytes]:
    start = 1_764_000_000
    return [
        sign_report(
            Report(
                key.device_id,
                seq,
                start + 60 * seq,
                start + 60 * seq + 60,
                (Record("temperature", value=21.5), Record("humidity", value=54.0)),
            ),
            key,
        )
        for seq in range(1, count + 1)
    ]


def fill(path: Path, payloads: list[bytes]) -> float:
    """Store ``payloads`` through the outbox's durable append; returns the seconds taken."""
    outbox = Outbox(OutboxConfig(path=path))
    started = time.perf_counter()
    for payload in payloads:
        outbox.append(lambda seq, p=payload: p)
    elapsed = time.perf_counter() - started
    outbox.connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    outbox.close()
    return elapsed


def replay(broker: Broker, template: Path, key: DeviceKey, payloads: list[bytes]) -> float:
    # Each run replays a fresh copy of the same stored backlog.
    path = template.with_name(f"run-{time.monotonic_ns()}.sqlite")
    shutil.copyfile(template, path)
    outbox = Outbox(OutboxConfig(path=path))
    topics = DeviceTopics.for_device_id(key.device_id)
    counter = Counter(broker.port, topics.report, topics.ack)
    link = ReportLink(
        LinkConfig(url=f"mqtt://127.0.0.1:{broker.port}", max_in_flight=WINDOW),
        outbox,
        topics,
        signer=key,
    )
    started = time.perf_counter()
    link.start()
    link.notify()
    if not link.wait_drained(120):
        sys.exit("outbox did not drain")
    elapsed = time.perf_counter() - started
    link.stop()
    received = counter.wait(len(payloads))
    if received != len(payloads):
        sys.exit(f"subscriber got {received} of {len(payloads)}")
    if outbox.stats().depth != 0:
        sys.exit("outbox not empty")
    return elapsed


def raw_paho(broker: Broker, payloads: list[bytes], topic: str) -> float:
    acked = threading.Event()
    count = 0
    connected = threading.Event()

    def on_publish(*args: Any) -> None:
        nonlocal count
        count += 1
        if count == len(payloads):
            acked.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="raw", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(WINDOW)
    client.on_publish = on_publish
    client.on_connect = lambda *a: connected.set()
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    connected.wait(10)
    started = time.perf_counter()
    for payload in payloads:
        client.publish(topic, payload, qos=1)
    acked.wait(120)
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--reports", type=int, default=5000, help="backlog for publish_per_s")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (best is kept)")
    args = parser.parse_args()

    key = DeviceKey.generate()
    day = signed_reports(key, 1440)
    many = signed_reports(key, args.reports)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker = Broker(workdir)
        try:
            fill_s = fill(workdir / "day.sqlite", day)
            fill(workdir / "many.sqlite", many)
            backlog = min(replay(broker, workdir / "day.sqlite", key, day) for _ in range(3))
            # Alternate ours and the baseline so background load hits both alike.
            publish_runs, raw_runs = [], []
            for i in range(args.repeat):
                publish_runs.append(replay(broker, workdir / "many.sqlite", key, many))
                raw_runs.append(raw_paho(broker, many, f"bench/raw/{i}"))
            publish_s, raw_s = min(publish_runs), min(raw_runs)
        finally:
            broker.stop()
    result = {
        "backlog_1440_s": round(backlog, 3),
        "publish_per_s": round(args.reports / publish_s),
        "raw_paho_per_s": round(args.reports / raw_s),
        "ratio_to_raw": round(raw_s / publish_s, 3),
        "append_per_s": round(len(day) / fill_s),
        "reports": args.reports,
        "report_bytes": len(day[0]),
        "window": WINDOW,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result.items():
            print(f"{name:>16}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
