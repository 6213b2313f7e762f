"""Demo devices: each a real ``fieldproof agent run`` process with its own key and owner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from demo.broker import DemoBroker
from fieldproof.identity import DeviceKey, save_key
from fieldproof.metrics import CATALOGUE

REPO = Path(__file__).resolve().parents[2]
SAMPLE_VIDEO = REPO / "models" / "vtest.avi"
WEATHER = REPO / "models" / "data" / "tmy3-723170.csv"
# A counting line across the walkway of vtest.avi (768×576), in source pixels.
COUNTING_LINE = {"name": "walkway", "start": [120.0, 330.0], "end": [700.0, 330.0]}
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

    @property
    def name(self) -> str:
        return f"device-{self.index}"

    @property
    def outbox_path(self) -> Path:
        return self.directory / "outbox.sqlite"

    @property
    def log_path(self) -> Path:
        return self.directory / "agent.log"


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
) -> dict[str, Any]:
    """The ``agent.yaml`` of one demo device, as an operator would write it."""
    config: dict[str, Any] = {
        "identity": {"key_file": str(device.directory / "device.key")},
        "link": {
            "url": broker.url,
            "protocol": "5" if broker.protocol == "v5" else "3.1.1",
            "reconnect_max_s": 2.0,
        },
        "outbox": {"path": str(device.outbox_path)},
        "health": {"interval_s": 5.0, "metrics_port": 0, "disk_path": str(device.directory)},
        "remote": {
            "state_dir": str(device.directory / "state"),
            "models_dir": str(device.directory / "models"),
        },
        "settings": {"heartbeat_s": 5.0, "report_interval_s": interval_s},
        "sensors": [
            {
                "type": "replay",
                "name": "wx",
                "path": str(WEATHER),
                "columns": list(WEATHER_COLUMNS),
                "speed": weather_speed,
                "loop": True,
            }
        ],
    }
    assert all(column in CATALOGUE for column in WEATHER_COLUMNS)
    if camera:
        config["cameras"] = [
            {
                "name": "street",
                "url": str(SAMPLE_VIDEO),
                "file_pacing": "native",
                "file_loop": True,
                "interval_s": interval_s,
                "lines": [COUNTING_LINE],
            }
        ]
    return config


def start_agent(device: DemoDevice, config: dict[str, Any]) -> None:
    """Write the device's ``agent.yaml`` and start ``fieldproof agent run`` on it."""
    path = device.directory / "agent.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
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
