"""``fieldproof agent run``: the agent, one camera worker per camera, and the sensors.

The composition root of the edge: it wires the :class:`Agent` (reports, link, remote
control, heartbeat, watchdog) to the producers, the camera workers and the sensor hub,
and to the model swap that keeps the detector they share. A camera change from a
signed remote config restarts the workers.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from edge_agent.agent import Agent
from edge_agent.camera_worker import CameraWorker
from edge_agent.config import AgentConfig, load_agent_config
from edge_agent.health.stats import StatsRegistry
from edge_agent.model_swap import ModelSwap
from edge_agent.quality_windows import QualityWindows
from edge_agent.sensor_hub import SensorHub
from edge_agent.sources.config import CameraConfig
from fieldproof.identity import DeviceKey, load_key
from fieldproof.runloop import run_service

log = logging.getLogger(__name__)

# Kept below systemd's default stop timeout (90 s) with room to spare.
DRAIN_ON_STOP_S = 10.0


class Runtime:
    """The agent with its cameras, the detector they share, and its sensors."""

    def __init__(self, config: AgentConfig, key: DeviceKey) -> None:
        self.config = config
        self.stats = StatsRegistry()
        self.models = ModelSwap(config.detector, installed=self._installed_model)
        self.agent = Agent(
            config,
            key,
            stats=self.stats,
            warm_up=self.models.warm_up,
            activate=self.models.activate,
            model_ids=self.models.model_ids,
            liveness=self.cameras_healthy,
        )
        self.workers: list[CameraWorker] = []
        self._unhealthy: frozenset[str] = frozenset()
        self.sensors: SensorHub | None = None
        if config.sensors:
            from edge_agent.quality import QualityScorer

            self.sensors = SensorHub(
                config.sensors,
                self.agent.submit,
                config.settings.report_interval_s,
                QualityWindows(
                    QualityScorer(),
                    stats=self.stats,
                    flag_after_s=config.health.sensor_fault_after_s,
                    time_scale={s.name: s.data_seconds_per_second() for s in config.sensors},
                ),
                stats=self.stats,
                stale_intervals=config.health.sensor_stale_intervals,
            )
        self.agent.remote.on_cameras(self._replace_cameras)

    def _installed_model(self) -> Path | None:
        installed = self.agent.remote.models.current()
        return None if installed is None else installed.path

    def cameras_healthy(self) -> bool:
        """True while no camera worker is dead or stuck (the watchdog follows this)."""
        unhealthy = frozenset(w.camera.name for w in self.workers if not w.healthy())
        if unhealthy - self._unhealthy:
            log.error("camera worker dead or stuck: %s", ", ".join(sorted(unhealthy)))
        self._unhealthy = unhealthy
        return not unhealthy

    def _replace_cameras(self, cameras: tuple[CameraConfig, ...]) -> None:
        for worker in self.workers:
            worker.stop()
        self.workers = [
            CameraWorker(c, self.models.detector, self.agent.submit, self.stats) for c in cameras
        ]
        for worker in self.workers:
            worker.start()

    def start(self) -> None:
        self.agent.start()
        if self.config.cameras:
            self.models.detector()  # load once up front so a broken model fails at start-up
            self._replace_cameras(self.config.cameras)
        if self.sensors is not None:
            self.sensors.start()

    def stop(self, drain_s: float = DRAIN_ON_STOP_S) -> None:
        """Stop producing, give the link ``drain_s`` to publish what is stored, then stop.

        What is still unpublished after that stays in the outbox for the next start.
        """
        for worker in self.workers:
            worker.stop()
        if self.sensors is not None:
            self.sensors.stop()
        self.agent.link.pump.wait_drained(drain_s)
        self.agent.stop()


def load_device_key(config: AgentConfig) -> DeviceKey:
    passphrase = None
    if config.identity.passphrase_file is not None:
        passphrase = config.identity.passphrase_file.read_bytes().strip()
    return load_key(config.identity.key_file, passphrase)


def run_agent(config_path: Path, stop: threading.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit status.

    systemd's watchdog is fed while :meth:`Agent.alive` holds (see ``run_service``).
    """
    config = load_agent_config(config_path)
    runtime = Runtime(config, load_device_key(config))
    name = f"agent {runtime.agent.device}"
    return run_service(runtime, alive=runtime.agent.alive, stop=stop, name=name)
