"""Every registered detector builds, runs on a real frame and honours the output type."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import get_args

import numpy as np
import pytest
from pydantic import TypeAdapter

from edge_agent.config import AgentConfig
from edge_agent.detectors import (
    PLUGINS,
    Detections,
    DetectorConfig,
    create_detector,
    create_detector_from_config,
    default_config,
)
from edge_agent.detectors.plugins.yolo import YoloDetector
from edge_agent.errors import AgentValueError
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError
from tests.edge_agent.detectors.frames import FIXTURES, vtest_frames

# A model for each plugin that has no default (the operator brings it).
MODELS: dict[str, Path] = {"yolo": FIXTURES / "tiny_yolo.onnx"}


def _target(key: str) -> str:
    return key if PLUGINS[key].default_model else f"{key}:{MODELS[key]}"


@pytest.mark.parametrize("key", sorted(PLUGINS))
def test_every_plugin_declares_its_key_config_and_class(key: str) -> None:
    plugin = PLUGINS[key]
    assert plugin.key == key
    assert get_args(plugin.config.model_fields["type"].annotation) == (key,)
    assert plugin.config.model_config.get("extra") == "forbid"
    assert plugin.description
    assert plugin.default_model or key in MODELS, "a plugin without a default needs a test model"


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
    raw: dict[str, object] = {"type": key, "score_threshold": 0.5}
    if not PLUGINS[key].default_model:
        raw["model"] = str(MODELS[key])
    config = TypeAdapter(DetectorConfig).validate_python(raw)
    assert isinstance(config, PLUGINS[key].config)
    detector = create_detector_from_config(config)
    assert isinstance(detector, PLUGINS[key].detector)
    assert detector.score_threshold == 0.5


def test_config_union_accepts_every_key_and_names_an_unknown_one() -> None:
    for key in PLUGINS:
        section: dict[str, object] = {"type": key}
        if key in MODELS:
            section["model"] = str(MODELS[key])
        config = parse_config(AgentConfig, {"detector": section})
        assert config.detector is not None
        assert config.detector.type == key
    with pytest.raises(ConfigError, match=r"detector: .*'nope'.*'nanodet'"):
        parse_config(AgentConfig, {"detector": {"type": "nope"}}, "agent.yaml")
    with pytest.raises(ConfigError, match=r"detector -> .*bogus"):
        parse_config(AgentConfig, {"detector": {"type": "nanodet", "bogus": 1}})


def test_model_path_with_a_colon(tmp_path: Path) -> None:
    model = tmp_path / "site:a" / "det:v2.onnx"
    model.parent.mkdir()
    shutil.copy(MODELS["yolo"], model)
    config = TypeAdapter(DetectorConfig).validate_python({"type": "yolo", "model": str(model)})
    assert config.model == str(model)
    assert isinstance(create_detector_from_config(config), YoloDetector)
    assert isinstance(create_detector(f"yolo:{model}"), YoloDetector)
    assert isinstance(create_detector(str(model)), YoloDetector)


def test_default_config_is_the_shipped_detector() -> None:
    assert default_config().type == "nanodet"
    assert default_config().model is None


def test_bare_path_is_matched_to_its_plugin() -> None:
    assert isinstance(create_detector(str(MODELS["yolo"])), YoloDetector)


def test_unknown_detector_is_named() -> None:
    with pytest.raises(AgentValueError, match="unknown detector 'nope'"):
        create_detector("nope")
    with pytest.raises(AgentValueError, match="no default model"):
        create_detector("yolo")
    with pytest.raises(AgentValueError, match="unknown COCO class 'dragon'"):
        create_detector("nanodet", classes=["dragon"])
