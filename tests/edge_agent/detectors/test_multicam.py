"""Several cameras on one inference call: same detections as one frame at a time."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from edge_agent.camera_pipeline import PerceptionPipeline, camera_detector
from edge_agent.detectors import Detections, create_detector
from edge_agent.detectors.base import OnnxDetector
from edge_agent.detectors.multicam import (
    BatchedCameraDetector,
    CameraBatcher,
    fixed_batch,
    shared_batcher,
)
from edge_agent.detectors.tiled import TiledDetector
from edge_agent.inference.errors import InferenceError
from edge_agent.sources import CameraConfig

from .frames import vtest_frames

# Batched and single-frame calls take different kernel paths (GEMM blocking over the
# batch), so floats differ in the last bits: boxes agree to 0.05 px, scores to 1e-4.
BOX_TOL = 0.05
SCORE_TOL = 1e-4


@pytest.fixture(scope="module")
def nanodet() -> OnnxDetector:
    return create_detector("nanodet")


def assert_same(got: Detections, want: Detections) -> None:
    assert len(got) == len(want) > 0
    order_got = np.lexsort(got.boxes.T[::-1])
    order_want = np.lexsort(want.boxes.T[::-1])
    np.testing.assert_allclose(got.boxes[order_got], want.boxes[order_want], atol=BOX_TOL)
    np.testing.assert_allclose(got.scores[order_got], want.scores[order_want], atol=SCORE_TOL)
    np.testing.assert_array_equal(got.class_ids[order_got], want.class_ids[order_want])


def run_cameras(
    detectors: list[BatchedCameraDetector], frames: list[npt.NDArray[np.uint8]]
) -> list[Detections]:
    """Each camera detects its own frame on its own thread, as camera workers do."""
    results: list[Detections | None] = [None] * len(detectors)
    start = threading.Barrier(len(detectors))

    def camera(i: int) -> None:
        start.wait()
        results[i] = detectors[i].detect(frames[i])

    threads = [threading.Thread(target=camera, args=(i,)) for i in range(len(detectors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def test_four_cameras_batched_detect_what_each_detects_alone(
    nanodet: OnnxDetector, tmp_path: Path
) -> None:
    frames = list(vtest_frames()[:4])
    batcher = shared_batcher(nanodet, max_wait_s=5.0, cache_dir=tmp_path)
    members = [BatchedCameraDetector(nanodet, batcher.join()) for _ in frames]
    calls = batcher.calls
    results = run_cameras(members, frames)
    # Every camera waited for the others: one call served all four.
    assert batcher.calls - calls == 1
    for got, frame in zip(results, frames, strict=True):
        assert_same(got, nanodet.detect(frame))
    for member in members:
        member.close()
    assert batcher.members == 0


def test_a_stalled_camera_delays_the_others_by_max_wait_only(
    nanodet: OnnxDetector, tmp_path: Path
) -> None:
    batcher = shared_batcher(nanodet, max_wait_s=0.05, cache_dir=tmp_path)
    running = BatchedCameraDetector(nanodet, batcher.join())
    silent = batcher.join()  # joined, never sends a frame
    frame = vtest_frames()[0]
    assert_same(running.detect(frame), nanodet.detect(frame))
    running.close()
    silent.leave()
    with pytest.raises(InferenceError, match="no longer a member"):
        running.detect(frame)


class _FixedRunner:
    """A model pinned to a batch of 3 that doubles its input, recording each call."""

    input_shapes: tuple[tuple[int | str, ...], ...] = ((3, 2),)

    def __init__(self) -> None:
        self.batches: list[int] = []

    def run(self, feeds: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
        assert feeds.shape[0] == 3, "a pinned model only ever sees its own batch"
        self.batches.append(int(np.count_nonzero(np.any(feeds != 0, axis=1))))
        return [feeds * 2.0, feeds[:, :1] + 1.0]


def test_a_fixed_batch_model_gets_padded_chunks_and_each_camera_its_rows() -> None:
    runner = _FixedRunner()
    batcher = CameraBatcher(runner)
    assert batcher.batch == 3
    inputs = [np.full((n, 2), i + 1, np.float32) for i, n in enumerate((1, 2, 2))]
    results = batcher.run_stacked(inputs)
    assert runner.batches == [3, 2]  # 5 rows: one full call, one padded with a zero row
    for given, (doubled, first) in zip(inputs, results, strict=True):
        np.testing.assert_array_equal(doubled, given * 2.0)
        np.testing.assert_array_equal(first, given[:, :1] + 1.0)


def test_a_runner_error_reaches_every_waiting_camera() -> None:
    class Broken(_FixedRunner):
        def run(self, feeds: npt.NDArray[np.float32]) -> list[npt.NDArray[np.float32]]:
            raise InferenceError("device lost")

    batcher = CameraBatcher(Broken(), max_wait_s=0.01)
    member = batcher.join()
    with pytest.raises(InferenceError, match="device lost"):
        member.run(np.ones((1, 2), np.float32))
    member.leave()


def test_free_and_pinned_batch_dimensions_are_told_apart(nanodet: OnnxDetector) -> None:
    assert fixed_batch(nanodet.runner) == 1
    assert fixed_batch(_FixedRunner()) == 3


def test_a_batched_camera_config_joins_the_shared_batch_and_leaves_on_close(
    nanodet: OnnxDetector,
) -> None:
    base = {"name": "a", "url": "x.avi", "batching": {"enabled": True, "max_wait_ms": 7}}
    plain = CameraConfig.model_validate({"name": "p", "url": "x.avi"})
    tiled = CameraConfig.model_validate(
        {**base, "name": "t", "tiling": {"enabled": True, "region": [0, 60, 768, 360]}}
    )
    assert camera_detector(plain, nanodet) is nanodet
    batcher = shared_batcher(nanodet, max_wait_s=0.007)
    before = batcher.members
    one = PerceptionPipeline(CameraConfig.model_validate(base), nanodet)
    two = PerceptionPipeline(tiled, nanodet)
    assert isinstance(one.detector, BatchedCameraDetector)
    assert isinstance(two.detector, TiledDetector)
    assert batcher.members == before + 2
    one.close()
    two.close()
    assert batcher.members == before


def test_batching_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="max_wait_ms"):
        CameraConfig.model_validate(
            {"name": "a", "url": "x.avi", "batching": {"enabled": True, "max_wait_ms": -1}}
        )
