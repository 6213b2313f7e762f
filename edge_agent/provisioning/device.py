"""``device init``: a device directory with an encrypted key and a default ``agent.yaml``."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from edge_agent.provisioning.errors import ProvisioningError
from edge_agent.provisioning.template import AgentYamlValues, render_agent_yaml
from fieldproof.identity import DeviceKey, device_id_hex, save_key

KEY_NAME = "device.key"
CONFIG_NAME = "agent.yaml"
IDENTITY_NAME = "device.json"


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Public facts about a device (safe to share)."""

    device_id: str
    public_key: str
    did: str

    @classmethod
    def of(cls, key: DeviceKey) -> DeviceIdentity:
        return cls(device_id_hex(key.device_id), "0x" + key.public_key.hex(), key.did)

    def to_json(self) -> dict[str, str]:
        return {"deviceId": self.device_id, "publicKey": self.public_key, "did": self.did}


def write_private(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create ``path`` with ``mode`` (never world-readable, even briefly)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def init_device(
    directory: Path,
    passphrase: bytes,
    values: AgentYamlValues | None = None,
    key: DeviceKey | None = None,
) -> DeviceIdentity:
    """Create ``directory`` with ``device.key``, ``device.json`` and ``agent.yaml``.

    Refuses to touch a directory that already holds a key: a device's identity is made once.
    """
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / KEY_NAME).exists():
        raise ProvisioningError(f"{directory / KEY_NAME} already exists; refusing to overwrite")
    key = DeviceKey.generate() if key is None else key
    identity = DeviceIdentity.of(key)
    save_key(key, directory / KEY_NAME, passphrase)
    (directory / IDENTITY_NAME).write_text(json.dumps(identity.to_json(), indent=2) + "\n")
    if values is None:
        values = AgentYamlValues(device_hex=identity.device_id)
    (directory / CONFIG_NAME).write_text(render_agent_yaml(values))
    return identity
