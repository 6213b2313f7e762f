"""The agent's config tree: one YAML file (``agent.yaml``), validated at start-up.

Relative paths never depend on the working directory. The device's state (its key, the
outbox, remote-config state, installed models, the disk whose use is reported) resolves
from ``state_dir``; every other path (certificates, replay files, detector models) from
the folder of the config file. ``state_dir`` itself, when relative, and when absent,
is that folder: ``device init --dir D`` writes a self-contained ``D``, while a fleet
bundle, whose config goes to ``/etc/fieldproof``, names ``/var/lib/fieldproof``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from edge_agent.audit.config import AuditConfig
from edge_agent.detectors.config import DetectorConfig
from edge_agent.health.config import HealthConfig
from edge_agent.link.config import LinkConfig
from edge_agent.outbox.config import OutboxConfig
from edge_agent.remote.config import RemoteConfig, RuntimeSettings
from edge_agent.reporting import BeaconConfig
from edge_agent.sensors.registry import SensorConfig
from edge_agent.sources.config import CameraConfig
from edge_agent.view.config import ViewConfig
from fieldproof.config import ConfigModel, load_config, resolve_paths


class IdentityConfig(ConfigModel):
    """The device key."""

    key_file: Path = Field(default=Path("device.key"), description="Encrypted PKCS#8 P-256 key.")
    passphrase_file: Path | None = Field(
        default=None,
        description="File holding the key passphrase (a systemd credential); "
        "None: FIELDPROOF_PASSPHRASE or a prompt.",
    )


class AgentConfig(ConfigModel):
    """Everything the agent needs, in one tree."""

    state_dir: Path | None = Field(
        default=None,
        description="Where relative state paths resolve (identity.key_file, outbox.path, "
        "remote.state_dir, remote.models_dir, health.disk_path); none: this file's folder.",
    )
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    link: LinkConfig = Field(default_factory=LinkConfig)
    outbox: OutboxConfig = Field(default_factory=OutboxConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    remote: RemoteConfig = Field(default_factory=RemoteConfig)
    beacon: BeaconConfig = Field(
        default_factory=BeaconConfig,  # type: ignore[arg-type]
        description="The recent block of the chain signed into each report (freshness).",
    )
    audit: AuditConfig = Field(
        default_factory=AuditConfig,  # type: ignore[arg-type]
        description="Check after each anchored epoch that every acknowledged report is in "
        "the root on-chain.",
    )
    settings: RuntimeSettings = Field(
        default_factory=RuntimeSettings,
        description="Start values of the settings a signed remote config can change.",
    )
    cameras: tuple[CameraConfig, ...] = Field(default=(), description="Cameras to run.")
    sensors: tuple[SensorConfig, ...] = Field(
        default=(), description="Environmental sensors (type picks the driver)."
    )
    detector: DetectorConfig | None = Field(
        default=None, description="Object detector for the cameras; None: NanoDet-m (shipped)."
    )
    view: ViewConfig = Field(
        default_factory=ViewConfig,
        description="The local view: frames, detections, lines and counts; lines by clicking.",
    )

    @model_validator(mode="after")
    def _verify_unique_names(self) -> AgentConfig:
        # Camera and sensor names prefix record names, so one report must not mix two.
        names = [camera.name for camera in self.cameras] + [s.name for s in self.sensors]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"cameras/sensors: names used twice: {duplicates}")
        return self


def load_agent_config(path: Path) -> AgentConfig:
    """Read and validate ``agent.yaml``; a ConfigError names every bad key path. Relative
    paths come back resolved (see the module docstring)."""
    config = load_config(AgentConfig, path)
    base = path.resolve().parent
    state = base if config.state_dir is None else base / config.state_dir
    config = config.model_copy(
        update={
            "identity": resolve_paths(config.identity, state),
            "outbox": resolve_paths(config.outbox, state),
            "remote": resolve_paths(config.remote, state),
            "health": resolve_paths(config.health, state),
        }
    )
    return resolve_paths(config, base)
