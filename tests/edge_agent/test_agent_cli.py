"""``fieldproof agent|device|fleet`` commands: config checks, identities, pairing, registration."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from edge_agent.remote.signing import open_config
from fieldproof.chain.pop import ProofOfPossession, pop_message
from fieldproof.cli import main
from fieldproof.identity import PublicKeyVerifier, device_id_hex, load_key, verify_signature
from fieldproof.wire import verify_document
from tests.edge_agent.link.collector import ReportCollector
from tests.services.mosquitto import MosquittoBroker

REPO = Path(__file__).resolve().parents[2]
# anvil's first prefunded development account (public, well known).
ANVIL_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
OWNER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def device_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FIELDPROOF_PASSPHRASE", "correct horse")
    directory = tmp_path / "device"
    assert main(["device", "init", "--dir", str(directory)]) == 0
    return directory


def test_check_config(device_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["agent", "check-config", str(device_dir / "agent.yaml")]) == 0
    assert ": ok" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "link:\n  url: ftp://broker\noutbox:\n  max_bytes: 10\n"
        "cameras:\n  - name: door\n    urll: rtsp://x\n"
    )
    assert main(["agent", "check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "link -> url (value: 'ftp://broker')" in err
    assert "outbox -> max_bytes" in err
    assert "cameras -> 0 -> urll" in err
    assert "cameras -> 0 -> url" in err


def test_device_init_and_pairing(device_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    identity = json.loads((device_dir / "device.json").read_text())
    key = load_key(device_dir / "device.key", b"correct horse")
    assert identity["deviceId"] == device_id_hex(key.device_id)
    registry = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    args = ["device", "pairing", "--dir", str(device_dir), "--owner", OWNER]
    assert main([*args, "--registry", registry, "--chain-id", "31337", "--nonce", "2"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["deviceId"] == identity["deviceId"]
    assert document["publicKey"] == "0x" + key.public_key.hex()
    assert document["owner"] == OWNER
    assert document["nonce"] == 2
    message = pop_message(registry, 31337, OWNER, key.device_id, 2)
    assert verify_signature(key.public_key, message, bytes.fromhex(document["signature"][2:]))
    assert ProofOfPossession.from_json(document).device_id == bytes(key.device_id)


def test_device_register_on_anvil(
    device_dir: Path,
    tmp_path: Path,
    anvil_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FP_TEST_CHAIN_KEY", ANVIL_KEY)
    deployment = tmp_path / "deployment.json"
    key_source = "env:FP_TEST_CHAIN_KEY"
    assert (
        main(["chain", "deploy", "--rpc", anvil_url, "--key", key_source, "--out", str(deployment)])
        == 0
    )
    capsys.readouterr()
    data = json.loads(deployment.read_text())
    registry = data["contracts"]["DeviceRegistry"]["address"]
    pairing = tmp_path / "pairing.json"
    assert (
        main(
            [
                "device",
                "pairing",
                "--dir",
                str(device_dir),
                "--owner",
                OWNER,
                "--registry",
                registry,
                "--chain-id",
                str(data["chainId"]),
            ]
        )
        == 0
    )
    pairing.write_text(capsys.readouterr().out)
    register = [
        "device",
        "register",
        "--pairing",
        str(pairing),
        "--rpc",
        anvil_url,
        "--deployment",
        str(deployment),
        "--key",
        key_source,
    ]
    assert main(register) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["owner"] == OWNER
    assert result["tx"] is not None
    assert result["alreadyRegistered"] is False
    # Idempotent: a second submission finds the registration on-chain and sends nothing.
    assert main(register) == 0
    assert json.loads(capsys.readouterr().out)["alreadyRegistered"] is True


def test_fleet_provision_and_sign_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fleet"
    assert main(["fleet", "provision", "--count", "2", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert len(summary["devices"]) == 2
    manifest = json.loads((out / "operator" / "manifest.json").read_text())
    document = tmp_path / "doc.json"
    document.write_text(
        json.dumps({"version": 1, "device": summary["devices"][0], "settings": {"heartbeat_s": 15}})
    )
    signed = tmp_path / "doc.cose"
    os.environ["FIELDPROOF_PASSPHRASE"] = (out / "operator" / "operator.key.passphrase").read_text()
    try:
        assert (
            main(
                [
                    "fleet",
                    "sign-config",
                    str(document),
                    "--key",
                    str(out / "operator" / "operator.key"),
                    "--out",
                    str(signed),
                ]
            )
            == 0
        )
    finally:
        del os.environ["FIELDPROOF_PASSPHRASE"]
    operator = PublicKeyVerifier(bytes.fromhex(manifest["operatorPublicKey"][2:]))
    assert open_config(signed.read_bytes(), operator, max_size=65536).settings.heartbeat_s == 15


def test_agent_run_process(device_dir: Path, mosquitto: MosquittoBroker) -> None:
    config = yaml.safe_load((device_dir / "agent.yaml").read_text())
    config["link"]["url"] = mosquitto.url
    config["health"]["metrics_port"] = 0
    config["settings"]["heartbeat_s"] = 0.5
    (device_dir / "agent.yaml").write_text(yaml.safe_dump(config))
    device = json.loads((device_dir / "device.json").read_text())["deviceId"]
    collector = ReportCollector(mosquitto.port, f"fp/v1/{device}/#").start()
    process = subprocess.Popen(
        [sys.executable, "-m", "fieldproof", "agent", "run", "--config", "agent.yaml"],
        cwd=device_dir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not any(t.endswith("/health") for t, _, _ in list(collector.messages)):
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        collector.stop()
    public_key = load_key(device_dir / "device.key", b"correct horse").public_key
    states = [
        json.loads(verify_document(p, public_key))["state"]
        for t, p, _ in collector.messages
        if t.endswith("/status")
    ]
    assert states[0] == "online"
    assert states[-1] == "offline"
    assert (device_dir / "outbox.sqlite").exists()
