from __future__ import annotations

import numpy as np

from edge_agent.sources import MotionConfig, MotionGate
from tests.edge_agent.sources.fakes import picture


def scene(x: int) -> np.ndarray:
    image = np.full((240, 320, 3), 90, dtype=np.uint8)
    image[100:180, x : x + 30] = 230
    return image


def test_still_scene_skips_and_motion_wakes_the_detector() -> None:
    gate = MotionGate(MotionConfig(downscale=4, min_changed=0.005, refresh_s=100.0))
    decisions = [gate.check(scene(50), t) for t in range(10)]
    assert decisions[0].run_detector  # nothing to compare against yet
    assert not any(d.run_detector for d in decisions[1:])
    assert gate.check(scene(120), 10.0).run_detector
    assert gate.skipped == 9
    assert gate.skipped_share == 9 / 11


def test_slow_drift_accumulates_against_the_last_processed_frame() -> None:
    gate = MotionGate(MotionConfig(downscale=1, min_changed=0.02, refresh_s=1e9))
    ran = [gate.check(scene(50 + t), float(t)).run_detector for t in range(60)]
    # One pixel per frame is below the threshold frame to frame, but not over many frames.
    assert ran[0]
    assert 1 < sum(ran) < 30


def test_still_scene_is_refreshed_periodically() -> None:
    gate = MotionGate(MotionConfig(refresh_s=5.0))
    ran = [gate.check(picture(0), float(t)).run_detector for t in range(12)]
    assert [t for t, r in enumerate(ran) if r] == [0, 5, 10]


def test_disabled_gate_runs_every_frame() -> None:
    gate = MotionGate(MotionConfig(enabled=False))
    assert all(gate.check(picture(0), float(t)).run_detector for t in range(5))
    assert gate.skipped == 0
