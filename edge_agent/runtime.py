"""``fieldproof agent run``: the agent, one camera worker per camera, and the sensors.

The composition root of the edge: it wires the :class:`Agent` (reports, link, remote
control, heartbeat, watchdog) to the producers, the camera workers and the sensor hub,
and to the model swap that keeps the detector they share. A camera change from a
signed remote config restarts the workers. Two observers watch the cameras' frames:
the shadow-mode runner (a candidate model, when one is installed) and the local view
(when enabled), whose line changes reach the running camera without a restart.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from edge_agent.agent import Agent
from edge_agent.camera_worker import CameraWorker, FrameObserver
from edge_agent.config import AgentConfig, load_agent_config
from edge_agent.errors import AgentValueError
from edge_agent.health.stats import StatsRegistry
from edge_agent.model_swap import ModelSwap
from edge_agent.quality_windows import QualityWindows
from edge_agent.remote.shadow import ShadowModels
from edge_agent.sensor_hub import SensorHub
from edge_agent.shadow.runner import ShadowRunner
from edge_agent.sources.config import CameraConfig
from edge_agent.view.server import ViewServer
from fieldproof.identity import DeviceKey, load_key
from fieldproof.protocol.shadow import SHADOW_KEY
from fieldproof.runloop import run_service

log = logging.getLogger(__name__)

# Kept below systemd's default stop timeout (90 s) with room to spare.
DRAIN_ON_STOP_S = 10.0


class Runtime:
    """The agent with its cameras, the detector they share, and its sensors."""

    def __init__(
        self, config: AgentConfig, key: DeviceKey, *, config_path: Path | None = None
    ) -> None:
        self.config = config
        self.stats = StatsRegistry()
        self.models = ModelSwap(config.detector, installed=self._installed_model)
        self.shadow = ShadowRunner(self.models.build, active_model=self._active_model)
        self.shadow_models = ShadowModels(config.remote.models_dir, warm_up=self.shadow.warm_up)
        self.shadow_models.on_change(self.shadow.set_candidate)
        self.agent = Agent(
            config,
            key,
            stats=self.stats,
            warm_up=self.models.warm_up,
            activate=self.models.activate,
            model_ids=self.models.model_ids,
            liveness=self.cameras_healthy,
            shadow=self.shadow_models,
            health_extra=self._health_extra,
        )
        self.workers: list[CameraWorker] = []
        self._observers: list[FrameObserver] = [self.shadow.observe]
        self._cameras_from_remote = False
        self.view: ViewServer | None = None
        if config.view.enabled:
            from edge_agent.view.board import ViewBoard
            from edge_agent.view.lines import LineEditor

            board = ViewBoard(config.view)
            self._observers.append(board.observe)
            editor = LineEditor(
                config_path, self.running_cameras, self.update_camera, managed=self._managed
            )
            self.view = ViewServer(config.view, board, editor)
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
        self.agent.remote.on_cameras(self._remote_cameras)

    def _installed_model(self) -> Path | None:
        installed = self.agent.remote.models.current()
        return None if installed is None else installed.path

    def _active_model(self) -> str:
        ids = self.models.model_ids()
        return ids[0] if ids else ""

    def _health_extra(self) -> dict[str, Any]:
        stats = self.shadow.stats()
        return {} if stats is None else {SHADOW_KEY: stats}

    def running_cameras(self) -> dict[str, CameraConfig]:
        return {worker.camera.name: worker.camera for worker in self.workers}

    def update_camera(self, camera: CameraConfig) -> None:
        """Give a running camera new lines and zones, from its next interval on."""
        for worker in self.workers:
            if worker.camera.name == camera.name:
                keep = {"lines", "zones"}
                if worker.camera.model_dump(exclude=keep) != camera.model_dump(exclude=keep):
                    raise AgentValueError(f"camera {camera.name}: only lines and zones change live")
                worker.reconfigure(camera)
                return
        raise AgentValueError(f"no running camera {camera.name}")

    def _managed(self) -> str | None:
        if self._cameras_from_remote:
            return "the cameras are set by a signed remote config: place lines in the next one"
        return None

    def _remote_cameras(self, cameras: tuple[CameraConfig, ...]) -> None:
        self._replace_cameras(cameras)
        self._cameras_from_remote = True

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
            CameraWorker(
                c, self.models.detector, self.agent.submit, self.stats, observers=self._observers
            )
            for c in cameras
        ]
        for worker in self.workers:
            worker.start()

    def start(self) -> None:
        self.shadow.set_candidate(self.shadow_models.current())
        self.shadow.start()
        self.agent.start()
        if self.view is not None:
            self.view.start()
        if self.config.cameras:
            self.models.detector()  # load once up front so a broken model fails at start-up
            self._replace_cameras(self.config.cameras)
        if self.sensors is not None:
            self.sensors.start()

    def stop(self, drain_s: float = DRAIN_ON_STOP_S) -> None:
        """Stop producing, give the link ``drain_s`` to publish what is stored, then stop.

        What is still unpublished after that stays in the outbox for the next start.
        """
        if self.view is not None:
            self.view.stop()
        for worker in self.workers:
            worker.stop()
        self.shadow.stop()
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
    runtime = Runtime(config, load_device_key(config), config_path=config_path)
    name = f"agent {runtime.agent.device}"
    return run_service(runtime, alive=runtime.agent.alive, stop=stop, name=name)
