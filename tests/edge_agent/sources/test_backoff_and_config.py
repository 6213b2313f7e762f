from __future__ import annotations

import random

import pytest

from edge_agent.errors import AgentValueError
from edge_agent.sources import Backoff, BackoffConfig, CameraConfig
from edge_agent.sources.capture import SourceKind, redact_url, source_kind
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError


def test_delays_grow_and_are_capped() -> None:
    backoff = Backoff(BackoffConfig(initial_s=0.5, factor=2.0, max_s=4.0, jitter=0.0))
    assert [backoff.next_delay() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_jitter_stays_within_share_and_cap() -> None:
    cfg = BackoffConfig(initial_s=1.0, factor=2.0, max_s=8.0, jitter=0.2)
    backoff = Backoff(cfg, random.Random(7))
    delays = [backoff.next_delay() for _ in range(8)]
    plain = [min(8.0, 2.0**i) for i in range(8)]
    assert all(p <= d <= min(8.0, p * 1.2) for p, d in zip(plain, delays, strict=True))


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
