"""Signed remote config and model updates: accepted, rejected, rolled back."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.remote.config import ModelUpdate, RemoteConfig, RuntimeSettings
from edge_agent.remote.control import RemoteControl, UpdateOutcome
from edge_agent.remote.errors import ConfigRejectedError, ModelRejectedError
from edge_agent.remote.models import ModelUpdater
from edge_agent.remote.signing import open_config, sign_config
from fieldproof.identity import DeviceKey, PublicKeyVerifier, device_id_hex
from fieldproof.wire.cose import sign1

OPERATOR = DeviceKey.from_secret(0xC0FFEE)
DEVICE = device_id_hex(DeviceKey.from_secret(42).device_id)


def _document(version: int, **extra: Any) -> dict[str, Any]:
    return {"version": version, "device": DEVICE, **extra}


def _control(tmp_path: Path, **kwargs: Any) -> tuple[RemoteControl, list[UpdateOutcome]]:
    outcomes: list[UpdateOutcome] = []
    config = RemoteConfig(
        operator_public_key="0x" + OPERATOR.public_key.hex(),
        state_dir=tmp_path / "state",
        models_dir=tmp_path / "models",
    )
    control = RemoteControl(config, DEVICE, RuntimeSettings(), on_outcome=outcomes.append, **kwargs)
    return control, outcomes


def _verifier() -> PublicKeyVerifier:
    return PublicKeyVerifier(OPERATOR.public_key)


def test_signed_document_round_trip() -> None:
    signed = sign_config(_document(3, settings={"heartbeat_s": 5}), OPERATOR)
    document = open_config(signed, _verifier(), max_size=65536)
    assert document.version == 3
    assert document.settings.heartbeat_s == 5


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (sign_config(_document(1), DeviceKey.from_secret(7)), "bad_signature"),
        (b"\xa0", "malformed"),
        (sign1(b"not json", bytes(OPERATOR.device_id), OPERATOR), "malformed"),
        (sign1(b'{"version": 1, "device": "0x00", "x": 1}', b"k", OPERATOR), "invalid"),
    ],
)
def test_rejections_name_a_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(ConfigRejectedError) as info:
        open_config(payload, _verifier(), max_size=65536)
    assert info.value.reason == reason


def test_tampered_payload_is_a_bad_signature() -> None:
    signed = bytearray(sign_config(_document(1, settings={"heartbeat_s": 5}), OPERATOR))
    index = signed.index(b'"heartbeat_s":5') + len('"heartbeat_s":')
    signed[index] = ord("9")
    with pytest.raises(ConfigRejectedError, match="bad_signature"):
        open_config(bytes(signed), _verifier(), max_size=65536)


def test_apply_hot_reloads_and_refuses_replays(tmp_path: Path) -> None:
    control, outcomes = _control(tmp_path)
    seen: list[RuntimeSettings] = []
    control.on_settings(seen.append)
    first = sign_config(
        _document(2, settings={"heartbeat_s": 7, "report_interval_s": 10}), OPERATOR
    )
    assert control.apply(first)[0].outcome == "applied"
    assert control.settings.heartbeat_s == 7
    assert seen[-1].report_interval_s == 10
    # The retained copy redelivered on reconnect is a no-op, not a rejection.
    assert control.apply(first)[0].outcome == "unchanged"
    older = sign_config(_document(1, settings={"heartbeat_s": 1}), OPERATOR)
    assert control.apply(older)[0].reason == "stale"
    other = sign_config({**_document(5), "device": "0x" + "11" * 32}, OPERATOR)
    assert control.apply(other)[0].reason == "wrong_device"
    forged = sign_config(_document(9, settings={"heartbeat_s": 1}), DeviceKey.from_secret(5))
    assert control.apply(forged)[0].reason == "bad_signature"
    assert control.settings.heartbeat_s == 7
    assert control.version == 2
    assert [o.outcome for o in outcomes] == ["applied", "rejected", "rejected", "rejected"]
    assert control.status()["last_update"]["config"]["reason"] == "bad_signature"

    # After a restart the accepted document is restored and still guards against replay.
    again, _ = _control(tmp_path)
    again.restore()
    assert again.version == 2
    assert again.settings.heartbeat_s == 7
    assert again.apply(first)[0].outcome == "unchanged"


def test_failing_listener_rolls_back(tmp_path: Path) -> None:
    control, _ = _control(tmp_path)
    seen: list[float] = []
    control.on_settings(lambda s: seen.append(s.heartbeat_s))

    def refuse(cameras: object) -> None:
        raise RuntimeError("camera door: cannot open")

    control.on_cameras(refuse)
    document = _document(
        1, settings={"heartbeat_s": 3}, cameras=[{"name": "door", "url": "/dev/video0"}]
    )
    outcome = control.apply(sign_config(document, OPERATOR))[0]
    assert (outcome.outcome, outcome.reason) == ("rejected", "apply_failed")
    assert control.settings.heartbeat_s == 30.0
    assert control.version == 0
    assert seen == [3.0, 30.0]


def _model_file(tmp_path: Path, content: bytes) -> tuple[str, str]:
    path = tmp_path / f"m-{hashlib.sha256(content).hexdigest()[:8]}.onnx"
    path.write_bytes(content)
    return path.as_uri(), hashlib.sha256(content).hexdigest()


def test_model_install_verify_and_rollback(tmp_path: Path) -> None:
    warmed: list[Path] = []
    active: list[str] = []
    fail = {"warm": False, "activate": False}

    def warm_up(path: Path) -> None:
        if fail["warm"]:
            raise RuntimeError("session failed")
        warmed.append(path)

    def activate(path: Path, model_id: str) -> None:
        if fail["activate"]:
            raise RuntimeError("engine rejected")
        active.append(model_id)

    updater = ModelUpdater(tmp_path / "models", warm_up=warm_up, activate=activate)
    url, digest = _model_file(tmp_path, b"model-one")
    first = updater.install(ModelUpdate(model_id="det", url=url, sha256=digest))
    assert first.path.read_bytes() == b"model-one"
    assert updater.current() == first

    url2, digest2 = _model_file(tmp_path, b"model-two")
    with pytest.raises(ModelRejectedError) as info:
        updater.install(ModelUpdate(model_id="det2", url=url2, sha256="0" * 64))
    assert info.value.reason == "hash_mismatch"
    assert updater.current() == first
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["current", first.path.name]

    fail["warm"] = True
    with pytest.raises(ModelRejectedError, match="warmup_failed"):
        updater.install(ModelUpdate(model_id="det2", url=url2, sha256=digest2))
    assert updater.current() == first
    fail["warm"] = False
    fail["activate"] = True
    with pytest.raises(ModelRejectedError, match="activation_failed"):
        updater.install(ModelUpdate(model_id="det2", url=url2, sha256=digest2))
    assert updater.current() == first
    assert first.path.read_bytes() == b"model-one"
    fail["activate"] = False
    second = updater.install(ModelUpdate(model_id="det2", url=url2, sha256=digest2))
    assert updater.current() == second
    assert not first.path.exists()
    assert active == ["det", "det2"]

    with pytest.raises(ModelRejectedError, match="download_failed"):
        updater.install(
            ModelUpdate(model_id="x", url=(tmp_path / "missing").as_uri(), sha256=digest)
        )


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, server.server_address[1]
    server.shutdown()


def test_model_over_http_via_signed_document(tmp_path: Path, http_dir: tuple[Path, int]) -> None:
    root, port = http_dir
    (root / "det.onnx").write_bytes(b"weights")
    digest = hashlib.sha256(b"weights").hexdigest()
    control, _ = _control(tmp_path)
    url = f"http://127.0.0.1:{port}/det.onnx"
    bad = _document(1, model={"model_id": "det", "url": url, "sha256": "f" * 64})
    config_outcome, model_outcome = control.apply(sign_config(bad, OPERATOR))
    assert config_outcome.outcome == "applied"
    assert (model_outcome.outcome, model_outcome.reason) == ("rejected", "hash_mismatch")
    assert control.models.current() is None
    good = _document(2, model={"model_id": "det", "url": url, "sha256": digest})
    assert control.apply(sign_config(good, OPERATOR))[1].outcome == "applied"
    assert control.status()["model"] == {"id": "det", "sha256": digest}
