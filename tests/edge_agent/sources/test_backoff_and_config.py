from __future__ import annotations

import pytest

from edge_agent.errors import AgentValueError
from edge_agent.sources import BackoffConfig, CameraConfig
from edge_agent.sources.capture import SourceKind, redact_url, source_kind
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError


def test_reconnect_settings_make_the_policy() -> None:
    cfg = BackoffConfig(initial_s=0.5, factor=3.0, max_s=4.0, jitter=0.25)
    policy = cfg.policy()
    assert (policy.initial_s, policy.factor, policy.max_s, policy.jitter) == (0.5, 3.0, 4.0, 0.25)
    assert [policy.ceiling(n) for n in range(4)] == [0.5, 1.5, 4.0, 4.0]


def test_source_kinds() -> None:
    assert source_kind(0) is SourceKind.DEVICE
    assert source_kind("/dev/video2") is SourceKind.DEVICE
    assert source_kind("rtsp://10.0.0.5:554/stream1") is SourceKind.STREAM
    assert source_kind("https://cam.example/mjpg") is SourceKind.STREAM
    assert source_kind("/data/clip.mp4") is SourceKind.FILE
    assert source_kind("file:///data/clip.mp4") is SourceKind.FILE
    with pytest.raises(AgentValueError, match="'gopher'"):
        source_kind("gopher://x/y")


def test_password_is_redacted() -> None:
    assert redact_url("rtsp://admin:hunter2@10.0.0.5:554/s") == "rtsp://admin:***@10.0.0.5:554/s"
    assert redact_url("rtsp://10.0.0.5/s") == "rtsp://10.0.0.5/s"


def test_frames_are_not_shared_unless_the_camera_says_so() -> None:
    cam = parse_config(CameraConfig, {"name": "door", "url": "rtsp://10.0.0.5/s"})
    assert cam.share_frames is False
    assert cam.motion.enabled is True


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match="reconnect -> initial_s"):
        parse_config(CameraConfig, {"name": "door", "url": "x.mp4", "reconnect": {"initial_s": 0}})
    with pytest.raises(ConfigError, match="used twice"):
        parse_config(
            CameraConfig,
            {
                "name": "door",
                "url": "x.mp4",
                "lines": [
                    {"name": "a", "start": [0, 0], "end": [1, 1]},
                    {"name": "a", "start": [0, 0], "end": [2, 1]},
                ],
            },
        )
