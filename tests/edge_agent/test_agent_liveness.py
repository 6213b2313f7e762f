"""The agent is alive (and feeds systemd's watchdog) only while its camera workers are."""

from __future__ import annotations

import threading
from pathlib import Path

from edge_agent.agent import HEARTBEAT_SLACK_S, Agent
from edge_agent.camera_worker import CameraWorker
from edge_agent.config import AgentConfig
from edge_agent.health.stats import StatsRegistry
from edge_agent.runtime import Runtime
from fieldproof.config import parse_config
from fieldproof.identity import DeviceKey
from tests.edge_agent.camera_fakes import EmptyDetector, Reports, StuckSource, camera
from tests.edge_agent.sources.fakes import FakeClock
from tests.services.ports import free_port


def _config(tmp_path: Path) -> AgentConfig:
    return parse_config(
        AgentConfig,
        {
            # Nobody listens there: liveness follows the agent's threads, not the broker.
            "link": {"url": f"mqtt://127.0.0.1:{free_port()}", "reconnect_max_s": 0.5},
            "outbox": {"path": str(tmp_path / "outbox.sqlite")},
            "health": {"metrics_port": 0},
            "remote": {"state_dir": str(tmp_path / "s"), "models_dir": str(tmp_path / "m")},
        },
    )


def test_agent_is_not_alive_while_a_producer_is_not(tmp_path: Path) -> None:
    producers_alive = threading.Event()
    agent = Agent(_config(tmp_path), DeviceKey.generate(), liveness=producers_alive.is_set)
    agent.start()
    try:
        assert not agent.alive()
        producers_alive.set()
        assert agent.alive()
    finally:
        agent.stop()


def test_a_silent_heartbeat_is_not_liveness(tmp_path: Path) -> None:
    agent = Agent(_config(tmp_path), DeviceKey.generate())
    agent.start()
    try:
        assert agent.alive()
        # As if the heartbeat thread had hung in a reader for far longer than its bound.
        agent._last_beat -= 3 * agent.remote.settings.heartbeat_s + HEARTBEAT_SLACK_S + 1
        assert not agent.alive()
    finally:
        agent.stop()


def test_a_stuck_camera_worker_makes_the_runtime_unhealthy(tmp_path: Path) -> None:
    runtime = Runtime(_config(tmp_path), DeviceKey.generate())
    clock = FakeClock()
    worker = CameraWorker(
        camera(),
        EmptyDetector,
        Reports(),
        StatsRegistry(),
        open_source=lambda config, stop: StuckSource(stop),
        clock=clock,
    )
    runtime.workers = [worker]
    worker.start()
    try:
        assert runtime.cameras_healthy()
        clock.now += worker.stall_after_s + 1.0
        assert not runtime.cameras_healthy()
    finally:
        worker.stop()
    assert runtime.cameras_healthy()
