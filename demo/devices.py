"""Demo devices: each a real ``fieldproof agent run`` process with its own key and owner.

The demo writes each ``agent.yaml`` from the agent's own config models, as an operator's
file would read, and follows each outbox through its public stats.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from demo.broker import DemoBroker
from edge_agent.analytics.config import LineConfig
from edge_agent.config import AgentConfig, IdentityConfig
from edge_agent.health.config import HealthConfig
from edge_agent.link.config import LinkConfig
from edge_agent.outbox import Outbox, OutboxConfig, OutboxStats
from edge_agent.remote.config import RemoteConfig, RuntimeSettings
from edge_agent.sensors.replay import ReplayConfig
from edge_agent.sources.config import CameraConfig
from fieldproof.identity import DeviceKey, save_key
from fieldproof.metrics import CATALOGUE

REPO = Path(__file__).resolve().parents[1]
SAMPLE_VIDEO = REPO / "models" / "vtest.avi"
WEATHER = REPO / "models" / "data" / "tmy3-723170.csv"
# A counting line across the walkway of vtest.avi (768×576), in source pixels.
COUNTING_LINE = LineConfig(name="walkway", start=(120.0, 330.0), end=(700.0, 330.0))
DEMO_PASSPHRASE = "fieldproof demo passphrase"  # throwaway demo keys only
WEATHER_COLUMNS = ("temp", "dew", "rh", "pres", "wspd", "wdir", "ghi")


@dataclass
class DemoDevice:
    """One device: its key, its working directory and, while running, its agent process."""

    index: int
    key: DeviceKey
    directory: Path
    owner: str
    location: tuple[float, float]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _outbox: Outbox | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return f"device-{self.index}"

    @property
    def outbox_path(self) -> Path:
        return self.directory / "outbox.sqlite"

    @property
    def config_path(self) -> Path:
        return self.directory / "agent.yaml"

    @property
    def log_path(self) -> Path:
        return self.directory / "agent.log"

    def outbox_stats(self) -> OutboxStats | None:
        """The agent's outbox counters; None until the agent has created its outbox."""
        if self._outbox is None:
            if not self.outbox_path.exists():
                return None
            self._outbox = Outbox(OutboxConfig(path=self.outbox_path))
        return self._outbox.stats()

    def close_outbox(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None


def create_device(
    index: int, workdir: Path, owner: str, location: tuple[float, float]
) -> DemoDevice:
    """A fresh key (encrypted at rest, as in the field) in the device's own directory."""
    directory = workdir / f"device-{index}"
    directory.mkdir(parents=True)
    key = DeviceKey.generate()
    save_key(key, directory / "device.key", DEMO_PASSPHRASE.encode())
    return DemoDevice(index, key, directory, owner, location)


def agent_config(
    device: DemoDevice,
    broker: DemoBroker,
    *,
    interval_s: float,
    weather_speed: float,
    camera: bool,
) -> AgentConfig:
    """The config of one demo device: replayed weather and, with ``camera``, the sample video."""
    assert all(column in CATALOGUE for column in WEATHER_COLUMNS)
    cameras = (
        CameraConfig(
            name="street",
            url=str(SAMPLE_VIDEO),
            file_pacing="native",
            file_loop=True,
            interval_s=interval_s,
            lines=(COUNTING_LINE,),
        ),
    )
    return AgentConfig(
        identity=IdentityConfig(key_file=device.directory / "device.key"),
        link=LinkConfig(
            url=broker.url,
            protocol="5" if broker.protocol == "v5" else "3.1.1",
            reconnect_max_s=2.0,
        ),
        outbox=OutboxConfig(path=device.outbox_path),
        health=HealthConfig(interval_s=5.0, metrics_port=0, disk_path=device.directory),
        remote=RemoteConfig(
            state_dir=device.directory / "state", models_dir=device.directory / "models"
        ),
        settings=RuntimeSettings(heartbeat_s=5.0, report_interval_s=interval_s),
        sensors=(
            ReplayConfig(
                type="replay",
                name="wx",
                path=WEATHER,
                columns=WEATHER_COLUMNS,
                speed=weather_speed,
                loop=True,
            ),
        ),
        cameras=cameras if camera else (),
    )


def agent_yaml(config: AgentConfig) -> str:
    """``agent.yaml`` as an operator would write it: only what differs from the defaults."""
    return yaml.safe_dump(config.model_dump(mode="json", exclude_defaults=True), sort_keys=False)


def start_agent(device: DemoDevice, config: AgentConfig) -> None:
    """Write the device's ``agent.yaml`` and start ``fieldproof agent run`` on it."""
    path = device.config_path
    path.write_text(agent_yaml(config))
    env = {**os.environ, "FIELDPROOF_PASSPHRASE": DEMO_PASSPHRASE}
    # One detector thread per agent: the demo's devices share one machine's cores.
    env.setdefault("OMP_NUM_THREADS", "1")
    with device.log_path.open("ab") as log:
        device.process = subprocess.Popen(
            [sys.executable, "-m", "fieldproof", "agent", "run", "--config", str(path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=device.directory,
            env=env,
        )


def stop_agent(device: DemoDevice, timeout: float = 20.0) -> int | None:
    """SIGTERM, then SIGKILL if the agent does not stop in time; returns the exit status."""
    process = device.process
    if process is None:
        return None
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode
