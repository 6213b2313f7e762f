"""The agent killed with SIGKILL and restarted: seqs continue, the outbox replays, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fieldproof.identity import DeviceKey, device_id_hex
from fieldproof.wire import verify_document
from tests.edge_agent.link.collector import ReportCollector
from tests.services.mosquitto import MosquittoBroker, start_broker

REPO = Path(__file__).resolve().parents[2]
SECRET = 0x5EED


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    # ``user root``: see tests/edge_agent/link/test_link_mosquitto.py.
    started = start_broker(tmp_path, "user root\n")
    yield started
    started.stop()


def _config(tmp_path: Path, broker: MosquittoBroker) -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        json.dumps(
            {
                "link": {"url": broker.url, "reconnect_initial_s": 0.05, "reconnect_max_s": 0.3},
                "outbox": {"path": str(tmp_path / "outbox.sqlite")},
                "health": {"metrics_port": 0, "interval_s": 1},
                "remote": {
                    "state_dir": str(tmp_path / "state"),
                    "models_dir": str(tmp_path / "models"),
                },
            }
        )
    )
    return path


class Child:
    def __init__(self, config: Path, count: int) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.edge_agent.link.agent_child",
                str(config),
                str(SECRET),
                str(count),
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.strip())

    def seqs(self) -> list[int]:
        return [int(line) for line in list(self.lines) if line.isdigit()]

    def wait_seqs(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.seqs()) < count:
            assert time.monotonic() < deadline, f"child printed {len(self.seqs())} seqs"
            assert self.process.poll() is None, "child exited early"
            time.sleep(0.02)


def test_sigkill_restart_continues_and_replays(tmp_path: Path, broker: MosquittoBroker) -> None:
    device = device_id_hex(DeviceKey.from_secret(SECRET).device_id)
    collector = ReportCollector(broker.port, "fp/v1/+/#").start()
    config = _config(tmp_path, broker)
    try:
        first = Child(config, 0)
        first.wait_seqs(80, 60)
        # Take the broker away so a backlog builds up, then kill the agent mid-stream.
        broker.stop()
        seen = len(first.seqs())
        first.wait_seqs(seen + 150, 60)
        first.process.kill()
        first.process.wait(10)
        before = first.seqs()
        assert before == list(range(1, len(before) + 1))
        broker.start()

        second = Child(config, 100)
        assert second.process.wait(60) == 0, second.lines[-3:]
        after = second.seqs()
        assert second.lines[-1] == "drained"
        # The sequence continues where the killed process committed its last report.
        assert after[0] > before[-1]
        assert after == list(range(after[0], after[0] + 100))
        # At most one report was committed but not yet printed when the kill landed.
        assert after[0] - before[-1] <= 2
        last = after[-1]
        assert collector.wait_for(last, 30), f"got {len(collector.seqs())} of {last}"
    finally:
        collector.stop()
    # Everything ever committed arrived; dedupe by (device, seq) leaves each once.
    assert collector.seqs() == set(range(1, last + 1))
    assert {dev for dev, _ in collector.received} == {DeviceKey.from_secret(SECRET).device_id}
    status = [m for m in collector.messages if m[0] == f"fp/v1/{device}/status"]
    # The clean stop at the end leaves "offline" retained.
    assert _state(status[-1][1]) == "offline"


def _state(payload: bytes) -> str:
    """The state of a status message, which must carry the device's signature."""
    state: str = json.loads(verify_document(payload, DeviceKey.from_secret(SECRET).public_key))[
        "state"
    ]
    return state


def _states(collector: ReportCollector, device: str) -> list[str]:
    return [
        _state(payload)
        for topic, payload, _ in list(collector.messages)
        if topic == f"fp/v1/{device}/status"
    ]


def test_last_will_marks_a_killed_agent_offline(tmp_path: Path, broker: MosquittoBroker) -> None:
    device = device_id_hex(DeviceKey.from_secret(SECRET).device_id)
    collector = ReportCollector(broker.port, f"fp/v1/{device}/status").start()
    try:
        child = Child(_config(tmp_path, broker), 0)
        deadline = time.monotonic() + 30
        while "online" not in _states(collector, device):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        child.process.kill()
        child.process.wait(10)
        while _states(collector, device)[-1] != "offline":
            assert time.monotonic() < deadline, _states(collector, device)
            time.sleep(0.02)
    finally:
        collector.stop()
    # Retained: a subscriber arriving later is told the device is offline.
    late = ReportCollector(broker.port, f"fp/v1/{device}/status").start()
    try:
        deadline = time.monotonic() + 5
        while not late.messages:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        _topic, payload, retained = late.messages[0]
        assert retained
        assert _state(payload) == "offline"
    finally:
        late.stop()
