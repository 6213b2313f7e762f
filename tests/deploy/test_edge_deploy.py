"""Edge deployment files: the systemd units, the first-boot installer, the scripts' syntax."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

from edge_agent.config import load_agent_config
from edge_agent.provisioning.fleet import provision_fleet
from fieldproof.config import SECRETS_DIR_ENV
from fieldproof.identity import load_key

REPO = Path(__file__).resolve().parents[2]
EDGE = REPO / "deploy" / "edge"


def _unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit as section -> key -> values (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def test_agent_unit_runs_watched_and_unprivileged() -> None:
    unit = _unit(EDGE / "systemd" / "fieldproof-agent.service")
    service = unit["Service"]
    assert service["Type"] == ["notify"]
    assert service["Restart"] == ["always"]
    assert int(service["WatchdogSec"][0]) > 0
    assert service["User"] == ["fieldproof"]
    assert set(service["SupplementaryGroups"][0].split()) == {"video", "i2c", "dialout"}
    assert service["ExecStart"][0].endswith("agent run --config /etc/fieldproof/agent.yaml")
    credentials = {value.split(":", 1)[0] for value in service["LoadCredential"]}
    assert credentials == {"key-passphrase", "mqtt-password"}
    assert f"{SECRETS_DIR_ENV}=%d" in service["Environment"]
    assert unit["Unit"]["StartLimitIntervalSec"] == ["0"]
    first = _unit(EDGE / "systemd" / "fieldproof-firstboot.service")
    assert first["Unit"]["Before"] == ["fieldproof-agent.service"]
    assert first["Service"]["Type"] == ["oneshot"]


def test_fleet_bundle_matches_the_unit(tmp_path: Path) -> None:
    """The agent.yaml in a bundle reads its secrets where the unit puts them."""
    fleet = provision_fleet(1, tmp_path / "fleet")
    bundle = fleet.devices[0].directory
    service = _unit(EDGE / "systemd" / "fieldproof-agent.service")["Service"]
    os.environ[SECRETS_DIR_ENV] = str(bundle / "secrets")
    try:
        config = load_agent_config(bundle / "agent.yaml")
    finally:
        del os.environ[SECRETS_DIR_ENV]
    assert str(config.identity.passphrase_file).startswith(
        "/run/credentials/fieldproof-agent.service/"
    )
    assert config.identity.passphrase_file is not None
    names = {value.split(":", 1)[0] for value in service["LoadCredential"]}
    assert config.identity.passphrase_file.name in names
    # The key and outbox live where the unit keeps state, whatever the working directory.
    assert service["StateDirectory"] == ["fieldproof"]
    assert config.state_dir == Path("/var/lib/fieldproof")
    assert config.identity.key_file == Path("/var/lib/fieldproof/device.key")
    assert config.outbox.path == Path("/var/lib/fieldproof/outbox.sqlite")


def test_firstboot_installs_bundle_and_deletes_the_copy(tmp_path: Path) -> None:
    fleet = provision_fleet(1, tmp_path / "fleet")
    device = fleet.devices[0]
    boot = tmp_path / "boot" / "fieldproof"
    shutil.copytree(device.directory, boot / device.identity.device_id)
    etc, state = tmp_path / "etc", tmp_path / "state"
    env = {
        **os.environ,
        "FIELDPROOF_BUNDLE_SEARCH": str(boot),
        "FIELDPROOF_USB_LABEL": "no-such-label-for-tests",
        "FIELDPROOF_ETC": str(etc),
        "FIELDPROOF_STATE": str(state),
        "FIELDPROOF_USER": "no-such-user-for-tests",
    }
    script = EDGE / "firstboot" / "fieldproof-firstboot"
    result = subprocess.run(
        ["sh", str(script)], check=False, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert device.identity.device_id in result.stdout
    assert not (boot / device.identity.device_id).exists()
    assert (etc / ".provisioned").exists()
    for name in ("agent.yaml", "ca.crt", "client.crt", "client.key", "device.json"):
        assert (etc / name).exists(), name
    assert stat.S_IMODE((etc / "secrets").stat().st_mode) == 0o700
    assert stat.S_IMODE((etc / "secrets" / "key-passphrase").stat().st_mode) == 0o600
    assert stat.S_IMODE((state / "device.key").stat().st_mode) == 0o600
    passphrase = (etc / "secrets" / "key-passphrase").read_bytes()
    key = load_key(state / "device.key", passphrase)
    assert "0x" + bytes(key.device_id).hex() == device.identity.device_id

    # Nothing left to install: a no-op; an identity already present is never overwritten.
    again = subprocess.run(
        ["sh", str(script)], check=False, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0
    assert "nothing to do" in again.stdout
    second = provision_fleet(1, tmp_path / "fleet2").devices[0]
    shutil.copytree(second.directory, boot / "other")
    refused = subprocess.run(
        ["sh", str(script)], check=False, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert "already has an identity" in refused.stdout
    assert (boot / "other" / "device.key").exists()


def test_shell_scripts_parse() -> None:
    for script in (EDGE / "install.sh", EDGE / "firstboot" / "fieldproof-firstboot"):
        assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0, script
        assert os.access(script, os.X_OK), script


def test_jetson_container_file() -> None:
    text = (EDGE / "jetson" / "Containerfile").read_text()
    assert "FROM nvcr.io/nvidia/l4t-jetpack:${L4T_TAG}" in text
    assert "ARG L4T_TAG=r36." in text
    assert "onnxruntime-gpu" in text
    assert "VOLUME" in text
    assert "/var/cache/fieldproof/tensorrt" in text
    assert "FIELDPROOF_TRT_CACHE" in text


def test_production_broker_config() -> None:
    lines = {
        line.split(None, 1)[0]: line.split(None, 1)[1] if " " in line else ""
        for line in (REPO / "deploy" / "mosquitto" / "mosquitto.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert lines["set_tcp_nodelay"] == "true"
    assert lines["max_inflight_messages"] == "1000"
    assert lines["max_queued_messages"] == "100000"
    assert lines["persistence"] == "true"
    assert lines["allow_anonymous"] == "false"
    assert lines["require_certificate"] == "true"
    assert lines["plugin"].endswith("mosquitto_dynamic_security.so")
    assert lines["plugin_opt_config_file"].endswith("/dynamic-security.json")
    # acl_file never refuses a subscription; with the plugin it would let one through.
    assert "acl_file" not in lines
    assert "password_file" not in lines
    assert lines["use_username_as_clientid"] == "true"
    assert int(lines["autosave_interval"]) <= 5
