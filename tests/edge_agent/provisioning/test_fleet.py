"""Fleet and device provisioning output: keys, configs, credentials, manifest."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from edge_agent.config import load_agent_config
from edge_agent.provisioning.device import init_device
from edge_agent.provisioning.errors import ProvisioningError
from edge_agent.provisioning.fleet import provision_fleet
from edge_agent.provisioning.passwd import check_password
from fieldproof.config import SECRETS_DIR_ENV
from fieldproof.identity import device_id_hex, load_key


def test_init_device_writes_key_and_valid_config(tmp_path: Path) -> None:
    identity = init_device(tmp_path / "dev", b"pass phrase")
    key = load_key(tmp_path / "dev" / "device.key", b"pass phrase")
    assert device_id_hex(key.device_id) == identity.device_id
    assert b"ENCRYPTED" in (tmp_path / "dev" / "device.key").read_bytes()
    assert stat.S_IMODE((tmp_path / "dev" / "device.key").stat().st_mode) == 0o600
    config = load_agent_config(tmp_path / "dev" / "agent.yaml")
    assert config.outbox.max_bytes > 0
    with pytest.raises(ProvisioningError, match="already exists"):
        init_device(tmp_path / "dev", b"pass phrase")


def test_fleet_bundles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = provision_fleet(3, tmp_path / "fleet")
    manifest = json.loads(result.manifest.read_text())
    assert len(manifest["devices"]) == 3
    assert manifest["operatorPublicKey"] == result.operator_public_key
    passwd = dict(
        line.split(":", 1) for line in (result.broker_dir / "passwd").read_text().splitlines()
    )
    assert {"aggregator", "operator"} <= set(passwd)
    for bundle in result.devices:
        directory = bundle.directory
        passphrase = (directory / "secrets" / "key-passphrase").read_bytes()
        key = load_key(directory / "device.key", passphrase)
        assert device_id_hex(key.device_id) == bundle.identity.device_id
        password = (directory / "secrets" / "mqtt-password").read_text()
        assert check_password(password, passwd[bundle.identity.device_id])
        monkeypatch.setenv(SECRETS_DIR_ENV, str(directory / "secrets"))
        config = load_agent_config(directory / "agent.yaml")
        assert config.link.username == bundle.identity.device_id
        assert config.link.password == password
        assert config.remote.operator_public_key == result.operator_public_key
        assert stat.S_IMODE((directory / "client.key").stat().st_mode) == 0o600
    with pytest.raises(ProvisioningError, match="not empty"):
        provision_fleet(1, tmp_path / "fleet")


def test_fleet_writes_the_aggregators_allowlist(tmp_path: Path) -> None:
    from aggregator.registry.allowlist import read_allowlist

    result = provision_fleet(2, tmp_path / "fleet")
    entries = read_allowlist(tmp_path / "fleet" / "aggregator" / "allowlist.yaml")
    assert {"0x" + device.hex() for device in entries} == {
        bundle.identity.device_id for bundle in result.devices
    }
    assert all(entry.active for entry in entries.values())
    assert {"0x" + entry.public_key.hex() for entry in entries.values()} == {
        bundle.identity.public_key for bundle in result.devices
    }
