"""systemd integration of the agent's run loop: READY once started, WATCHDOG while alive."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from edge_agent.agent import Agent
from edge_agent.config import AgentConfig
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from fieldproof.runloop import run_service
from tests.services.ports import free_port


def test_ready_and_watchdog_pings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notify.sock"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(path))
    receiver.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    config = parse_config(
        AgentConfig,
        {
            # Nobody listens there: the watchdog follows the agent's threads, not the broker.
            "link": {"url": f"mqtt://127.0.0.1:{free_port()}", "reconnect_max_s": 0.5},
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "health": {"metrics_port": 0},
            "remote": {"state_dir": str(tmp_path / "s"), "models_dir": str(tmp_path / "m")},
        },
    )
    agent = Agent(config, DeviceKey.generate())
    stop = threading.Event()
    runner = threading.Thread(
        target=run_service, args=(agent,), kwargs={"alive": agent.alive, "stop": stop}
    )
    runner.start()
    try:
        messages = [receiver.recv(64) for _ in range(4)]
        assert messages[0] == b"READY=1"
        assert messages[1:] == [b"WATCHDOG=1"] * 3
        assert agent.alive()
    finally:
        stop.set()
        runner.join(10)
        receiver.close()
    assert not agent.alive()
