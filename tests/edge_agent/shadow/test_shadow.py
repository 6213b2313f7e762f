"""Shadow mode: a candidate beside the active model reports agreement figures and never
changes what is published; it is installed, promoted and dropped by signed configs."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from edge_agent.camera_worker import CameraWorker, FrameObserver
from edge_agent.detectors.types import Detections
from edge_agent.health.stats import StatsRegistry
from edge_agent.remote.config import RemoteConfig, RuntimeSettings, ShadowSampling
from edge_agent.remote.control import RemoteControl
from edge_agent.remote.models import ModelUpdater
from edge_agent.remote.shadow import ShadowCandidate, ShadowModels
from edge_agent.remote.signing import sign_config
from edge_agent.shadow.runner import ShadowRunner
from edge_agent.sources import CameraConfig, SourceEvent
from edge_agent.sources.stream import SourceStats
from fieldproof.identity import DeviceKey, device_id_hex
from fieldproof.protocol import parse_health
from fieldproof.protocol.shadow import parse_shadow
from tests.edge_agent.camera_fakes import Reports
from tests.edge_agent.view.live import live_runtime, street
from tests.edge_agent.view.scene import SceneDetector, scene_frames

OPERATOR = DeviceKey.from_secret(0x5AD0)
DEVICE = device_id_hex(DeviceKey.from_secret(77).device_id)
FRAMES = 90


class FarSighted(SceneDetector):
    """A candidate that misses the person in the upper half of the frame."""

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        found = super().detect(frame_bgr)
        if len(found) and found.boxes[0, 1] < 100:
            return Detections.empty()
        return found


class Frames:
    """A finite source: the scene's frames in video time."""

    def __init__(self) -> None:
        self.stats = SourceStats()

    def events(self) -> Iterator[SourceEvent]:
        return iter(scene_frames(FRAMES))

    def close(self) -> None:
        return None


def _camera() -> CameraConfig:
    return CameraConfig.model_validate(
        street(lines=[{"name": "door", "start": [0, 120], "end": [320, 120]}])
    )


def _run(observers: list[FrameObserver]) -> Reports:
    reports = Reports()
    active = SceneDetector()
    worker = CameraWorker(
        _camera(),
        lambda: active,
        reports,
        StatsRegistry(),
        open_source=lambda camera, stop: Frames(),
        observers=observers,
    )
    worker.start()
    deadline = time.monotonic() + 30
    while not worker.finished and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.stop()
    assert worker.finished
    return reports


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def test_shadow_reports_agreement_and_never_changes_the_published_counts() -> None:
    without = _run([])

    runner = ShadowRunner(
        lambda path: FarSighted(), active_model=lambda: "scene-detector", queue_size=1000
    )
    sampling = ShadowSampling(window_s=3600, every_s=3600)
    runner.set_candidate(ShadowCandidate("far", "f" * 64, Path("far.onnx"), sampling))
    runner.start()
    try:
        with_shadow = _run([runner.observe])
        assert runner.drain()
        figures = runner.stats()
    finally:
        runner.stop()

    # What is signed and published is the same with the candidate running beside it.
    assert [(s, e, r) for s, e, r, _ in with_shadow.items] == [
        (s, e, r) for s, e, r, _ in without.items
    ]
    assert any(r.name.startswith("door/") and r.value for _, _, rs, _ in without.items for r in rs)

    assert figures is not None
    stats = parse_shadow({"shadow": figures})
    assert stats is not None
    assert (stats.candidate, stats.active, stats.frames) == ("far", "scene-detector", FRAMES)
    person = stats.classes["person"]
    # The candidate saw the person only in the lower half, and there exactly as the active.
    assert person.active == FRAMES
    assert 0 < person.candidate < FRAMES
    assert person.matched == person.candidate
    door = stats.lines["street/door"]
    active_crossings = door.in_.active + door.out.active
    assert active_crossings == FRAMES // 30  # one crossing per walk down the frame
    assert door.in_.candidate + door.out.candidate == 0
    assert stats.latency_ms.active_mean is not None
    assert stats.latency_ms.candidate_mean is not None
    assert stats.latency_ms.candidate_p95 is not None
    # Only numbers and model ids: nothing of an image leaves with the heartbeat.
    assert all(
        v is None or isinstance(v, int | float) or (isinstance(v, str) and len(v) <= 128)
        for v in _leaves(figures)
    )
    assert len(json.dumps(figures)) < 2048


def test_sampling_runs_windows_and_skips_what_the_candidate_cannot_take() -> None:
    clock = [0.0]
    gate = threading.Event()

    class Slow(SceneDetector):
        def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
            gate.wait(10)
            return super().detect(frame_bgr)

    runner = ShadowRunner(lambda path: Slow(), clock=lambda: clock[0], queue_size=2)
    sampling = ShadowSampling(window_s=1.0, every_s=10.0)
    runner.set_candidate(ShadowCandidate("slow", "a" * 64, Path("slow.onnx"), sampling))
    runner.start()
    try:
        from edge_agent.camera_pipeline import PerceptionPipeline

        pipeline = PerceptionPipeline(_camera(), SceneDetector())
        for i, frame in enumerate(scene_frames(40)):
            clock[0] = i * 0.5  # windows at 0 s and 10 s, each 1 s long
            pipeline.process(frame)
            runner.observe(frame, pipeline)
        gate.set()
        assert runner.drain()
        stats = parse_shadow({"shadow": runner.stats()})
    finally:
        runner.stop()
    assert stats is not None
    assert stats.windows == 2
    # Two frames fall in each window (0 and 0.5 s, 10 and 10.5 s); a blocked candidate
    # took one into its hands and two into its queue, the fourth was skipped.
    assert stats.frames + stats.frames_skipped == 4
    assert stats.frames_skipped >= 1


def _model(tmp_path: Path, content: bytes) -> tuple[str, str]:
    path = tmp_path / f"{hashlib.sha256(content).hexdigest()[:10]}.onnx"
    path.write_bytes(content)
    return path.as_uri(), hashlib.sha256(content).hexdigest()


def _doc(version: int, **extra: Any) -> dict[str, Any]:
    return {"version": version, "device": DEVICE, **extra}


def test_promotion_and_drop_through_signed_configs(tmp_path: Path) -> None:
    activated: list[str] = []
    changes: list[ShadowCandidate | None] = []
    models_dir = tmp_path / "models"
    shadow = ShadowModels(models_dir)
    shadow.on_change(changes.append)
    control = RemoteControl(
        RemoteConfig(
            operator_public_key="0x" + OPERATOR.public_key.hex(),
            state_dir=tmp_path / "state",
            models_dir=models_dir,
        ),
        DEVICE,
        RuntimeSettings(),
        models=ModelUpdater(models_dir, activate=lambda path, model_id: activated.append(model_id)),
        shadow=shadow,
    )
    url, sha = _model(tmp_path, b"candidate-model")

    def apply(document: dict[str, Any], signer: DeviceKey = OPERATOR) -> dict[str, Any]:
        outcomes = control.apply(sign_config(document, signer))
        return {o.kind: (o.outcome, o.reason) for o in outcomes}

    install = {"action": "install", "model": {"model_id": "cand", "url": url, "sha256": sha}}
    assert apply(_doc(1, shadow=install)) == {
        "config": ("applied", None),
        "shadow": ("applied", None),
    }
    candidate = shadow.current()
    assert candidate is not None
    assert (candidate.model_id, candidate.sha256) == ("cand", sha)
    assert changes == [candidate]
    assert control.status()["shadow"] == {"id": "cand", "sha256": sha}
    assert control.models.current() is None  # the active model is untouched

    # A promotion signed by anyone but the operator is refused before it is read.
    forged = apply(_doc(2, shadow={"action": "promote", "sha256": sha}), DeviceKey.from_secret(9))
    assert forged == {"config": ("rejected", "bad_signature")}
    # One naming another candidate than the running one changes nothing.
    other = apply(_doc(2, shadow={"action": "promote", "sha256": "0" * 64}))
    assert other["shadow"] == ("rejected", "not_candidate")
    assert activated == []
    assert shadow.current() == candidate

    assert apply(_doc(3, shadow={"action": "promote", "sha256": sha}))["shadow"] == (
        "applied",
        None,
    )
    active = control.models.current()
    assert active is not None
    assert (active.model_id, active.sha256) == ("cand", sha)
    assert activated == ["cand"]
    assert shadow.current() is None
    assert changes[-1] is None

    url2, sha2 = _model(tmp_path, b"second-candidate")
    second = {"action": "install", "model": {"model_id": "next", "url": url2, "sha256": sha2}}
    assert apply(_doc(4, shadow=second))["shadow"] == ("applied", None)
    dropped = shadow.current()
    assert dropped is not None
    assert apply(_doc(5, shadow={"action": "drop", "sha256": sha2}))["shadow"] == ("applied", None)
    assert shadow.current() is None
    assert not dropped.path.exists()
    assert control.models.current() == active  # a drop leaves the active model alone
    assert apply(_doc(6, shadow={"action": "drop", "sha256": sha2}))["shadow"] == (
        "rejected",
        "no_candidate",
    )


@pytest.mark.parametrize(
    "shadow",
    [
        {"action": "install"},
        {"action": "promote"},
        {
            "action": "drop",
            "sha256": "0" * 64,
            "model": {"model_id": "m", "url": "file:///m", "sha256": "0" * 64},
        },
        {
            "action": "install",
            "model": {"model_id": "m", "url": "file:///m", "sha256": "0" * 64},
            "sampling": {"window_s": 10, "every_s": 5},
        },
    ],
)
def test_malformed_shadow_documents_are_refused(shadow: dict[str, Any]) -> None:
    from fieldproof.errors import ConfigError

    with pytest.raises(ConfigError):
        sign_config(_doc(1, shadow=shadow), OPERATOR)


def test_heartbeat_carries_shadow_figures_and_promotion_swaps_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, sha = _model(tmp_path, b"candidate-model")
    with live_runtime(
        tmp_path,
        monkeypatch,
        [street(lines=[{"name": "door", "start": [0, 120], "end": [320, 120]}])],
        remote={"operator_public_key": "0x" + OPERATOR.public_key.hex()},
    ) as live:
        runtime = live.runtime
        candidate = SceneDetector(model_id="cand")
        # Model files here are stand-ins: building one gives the scene's detector.
        monkeypatch.setattr(runtime.shadow, "_build", lambda path: candidate)
        monkeypatch.setattr(runtime.models, "build", lambda path=None: candidate)
        device = runtime.agent.device

        def apply(document: dict[str, Any]) -> dict[str, Any]:
            outcomes = runtime.agent.remote.apply(sign_config(document, OPERATOR))
            return {o.kind: (o.outcome, o.reason) for o in outcomes}

        install = {
            "action": "install",
            "model": {"model_id": "cand", "url": url, "sha256": sha},
            "sampling": {"window_s": 5, "every_s": 5},
        }
        assert apply({"version": 1, "device": device, "shadow": install})["shadow"] == (
            "applied",
            None,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            beat = runtime.agent.health_document()
            if beat.get("shadow", {}).get("frames", 0) >= 5:
                break
            time.sleep(0.1)
        # The heartbeat validates against the protocol and carries the figures.
        payload = parse_health(json.dumps(beat).encode())
        figures = parse_shadow(payload.model_dump())
        assert figures is not None
        assert figures.frames >= 5
        assert figures.candidate_sha256 == sha
        assert figures.classes["person"].matched > 0

        promote = {"action": "promote", "sha256": sha}
        assert apply({"version": 2, "device": device, "shadow": promote})["shadow"] == (
            "applied",
            None,
        )
        assert runtime.models.model_ids() == ("cand",)
        assert "shadow" not in runtime.agent.health_document()
