"""Every registered detector builds, runs on a real frame and honours the output type."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge_agent.detectors import PLUGINS, Detections, create_detector, create_detector_from_config
from edge_agent.detectors.config import DetectorConfig
from edge_agent.errors import AgentValueError
from tests.edge_agent.detectors.frames import FIXTURES, vtest_frames

# A model for each plugin that has no default (the operator brings it).
MODELS: dict[str, Path] = {"yolo": FIXTURES / "tiny_yolo.onnx"}


def _target(key: str) -> str:
    return key if PLUGINS[key].default_model else f"{key}:{MODELS[key]}"


@pytest.mark.parametrize("key", sorted(PLUGINS))
def test_every_detector_runs_and_returns_detections(key: str) -> None:
    detector = create_detector(_target(key), classes=None, score_threshold=0.01)
    assert detector.model_id
    assert len(detector.sha256) == 64
    frame = vtest_frames()[0]
    dets = detector.detect(frame)
    assert isinstance(dets, Detections)
    assert dets.boxes.shape == (len(dets), 4)
    assert dets.boxes.dtype == np.float32
    assert dets.scores.dtype == np.float32
    assert dets.class_ids.dtype == np.int64
    assert np.all((dets.class_ids >= 0) & (dets.class_ids < 80))
    assert np.all(dets.boxes[:, [0, 2]] <= frame.shape[1])
    assert np.all(dets.boxes[:, [1, 3]] <= frame.shape[0])
    # The staged API gives the same result as detect().
    prepared = detector.prepare(frame)
    staged = detector.finish(detector.infer(prepared), prepared)
    np.testing.assert_array_equal(staged.boxes, dets.boxes)


@pytest.mark.parametrize("key", sorted(PLUGINS))
def test_every_detector_builds_from_config(key: str) -> None:
    from pydantic import TypeAdapter

    raw: dict[str, object] = {"type": key, "score_threshold": 0.5}
    if not PLUGINS[key].default_model:
        raw["model"] = str(MODELS[key])
    config = TypeAdapter(DetectorConfig).validate_python(raw)
    detector = create_detector_from_config(config)
    assert detector.score_threshold == 0.5


def test_bare_path_is_matched_to_its_plugin() -> None:
    from edge_agent.detectors.yolo import YoloDetector

    assert isinstance(create_detector(str(MODELS["yolo"])), YoloDetector)


def test_unknown_detector_is_named() -> None:
    with pytest.raises(AgentValueError, match="unknown detector 'nope'"):
        create_detector("nope")
    with pytest.raises(AgentValueError, match="no default model"):
        create_detector("yolo")
    with pytest.raises(AgentValueError, match="unknown COCO class 'dragon'"):
        create_detector("nanodet", classes=["dragon"])
