"""Tiles over a region of interest: layout, merge at tile borders, batched inference."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from edge_agent.analytics.geometry import iou_matrix
from edge_agent.camera_pipeline import PerceptionPipeline
from edge_agent.detectors import Detections, create_detector
from edge_agent.detectors.tiled import TiledDetector, TiledInput, TileLayout
from edge_agent.detectors.tiles import Tile, merge, plan_tiles
from edge_agent.sources import CameraConfig

from .frames import vtest_frames


def dets(*rows: tuple[float, float, float, float, float]) -> Detections:
    return Detections(
        boxes=np.array([r[:4] for r in rows], dtype=np.float32).reshape(-1, 4),
        scores=np.array([r[4] for r in rows], dtype=np.float32),
        class_ids=np.zeros(len(rows), dtype=np.int64),
    )


def test_tiles_cover_the_region_with_the_overlap() -> None:
    tiles = plan_tiles(768, 576, (0, 60, 768, 360), columns=2, rows=1, overlap=0.25)
    assert [(t.x1, t.y1, t.x2, t.y2) for t in tiles] == [(0, 60, 439, 360), (329, 60, 768, 360)]
    shared = tiles[0].x2 - tiles[1].x1
    assert shared == pytest.approx(0.25 * (tiles[0].x2 - tiles[0].x1), abs=1)
    # Inner edges: the cut between the tiles and the region's top and bottom.
    assert tiles[0].inner == (False, True, True, True)
    assert tiles[1].inner == (True, True, False, True)


def test_a_region_beyond_the_frame_is_clipped() -> None:
    tiles = plan_tiles(100, 100, (-50, -10, 500, 80), columns=1, rows=2, overlap=0.0)
    assert [(t.x1, t.y1, t.x2, t.y2) for t in tiles] == [(0, 0, 100, 40), (0, 40, 100, 80)]


def test_an_object_on_a_tile_border_is_one_box() -> None:
    left = Tile(0, 0, 400, 300, (False, False, True, True))
    right = Tile(300, 0, 700, 300, (True, False, False, True))
    person = (380.0, 100.0, 420.0, 200.0)
    merged = merge(
        dets((381.0, 102.0, 419.0, 203.0, 0.5)),  # the whole frame, coarser
        [
            (left, dets((380.0, 100.0, 399.0, 200.0, 0.7))),  # cut by the left tile's edge
            (right, dets((*person, 0.9))),  # whole in the right tile
        ],
        iou_threshold=0.6,
        edge_margin=2.0,
    )
    assert len(merged) == 1
    assert tuple(merged.boxes[0]) == person


def test_tiles_alone_keep_objects_at_the_frame_border() -> None:
    tile = Tile(0, 0, 400, 300, (False, False, True, True))
    merged = merge(
        None,
        [(tile, dets((0.0, 100.0, 30.0, 200.0, 0.8), (390.0, 100.0, 399.5, 200.0, 0.8)))],
        iou_threshold=0.6,
        edge_margin=2.0,
    )
    # The box at the frame's own left border stays; the one cut by the inner edge goes.
    assert merged.boxes.tolist() == [[0.0, 100.0, 30.0, 200.0]]


class BlobDetector:
    """Bright rectangles as detections: a model stand-in that sees only what is in a crop."""

    model_id = "blob"
    sha256 = "0" * 64
    iou_threshold = 0.6

    def detect(self, frame_bgr: npt.NDArray[np.uint8]) -> Detections:
        mask = (cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY) > 200).astype(np.uint8)
        count, _, stats, _ = cv2.connectedComponentsWithStats(mask)
        boxes = [(x, y, x + w, y + h) for x, y, w, h, area in stats[1:count] if area > 20]
        return Detections(
            boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
            scores=np.full(len(boxes), 0.9, dtype=np.float32),
            class_ids=np.zeros(len(boxes), dtype=np.int64),
        )


@pytest.mark.parametrize("full_frame", [True, False])
def test_objects_straddling_every_tile_border_are_found_once(full_frame: bool) -> None:
    frame = np.zeros((300, 800, 3), dtype=np.uint8)
    layout = TileLayout(region=(0, 0, 800, 300), columns=3, overlap=0.3, full_frame=full_frame)
    detector = TiledDetector(BlobDetector(), layout)
    tiles = detector.tiles_for(800, 300)
    expected = []
    for tile in tiles[:-1]:  # a 30 px wide object across each tile's right edge
        box = (tile.x2 - 15, 100, tile.x2 + 15, 160)
        cv2.rectangle(frame, box[:2], (box[2] - 1, box[3] - 1), (255, 255, 255), -1)
        expected.append(box)
    found = detector.detect(frame)
    assert sorted(tuple(int(v) for v in b) for b in found.boxes) == sorted(expected)


@pytest.fixture(scope="module")
def tiled(tmp_path_factory: pytest.TempPathFactory) -> TiledDetector:
    layout = TileLayout(region=(0, 60, 768, 360), columns=2, overlap=0.25)
    cache = tmp_path_factory.mktemp("batched")
    return TiledDetector(create_detector("nanodet"), layout, cache_dir=cache)


def _stack(per_slice: list[list[npt.NDArray[np.float32]]]) -> list[npt.NDArray[np.float32]]:
    return [np.concatenate(outputs, axis=0) for outputs in zip(*per_slice, strict=True)]


def test_batched_tiles_give_the_detections_of_one_at_a_time(tiled: TiledDetector) -> None:
    # Tolerance: boxes within 0.01 px and scores within 1e-5. The batch runs the same
    # graph, but ONNX Runtime may pick other kernels for a batch than for one input.
    compared = 0
    for image in vtest_frames(step=40, count=4):
        prepared: TiledInput = tiled.prepare(image)
        assert prepared.tensor.shape == (3, 3, 416, 416)
        batched = tiled.finish(tiled.infer(prepared), prepared)
        single = tiled.finish(_stack(tiled.infer_each(prepared)), prepared)
        assert len(batched) == len(single) > 0
        np.testing.assert_allclose(batched.boxes, single.boxes, atol=0.01)
        np.testing.assert_allclose(batched.scores, single.scores, atol=1e-5)
        np.testing.assert_array_equal(batched.class_ids, single.class_ids)
        compared += len(batched)
    assert compared > 10


def test_tiling_finds_people_the_whole_frame_misses_and_no_duplicates(
    tiled: TiledDetector,
) -> None:
    whole_found = tiled_found = 0
    for image in vtest_frames(step=40, count=4):
        whole = tiled.detector.detect(image)
        found = tiled.detect(image)
        whole_found += int(np.count_nonzero(whole.class_ids == 0))
        people = found.boxes[found.class_ids == 0]
        tiled_found += people.shape[0]
        overlap = iou_matrix(people, people)
        np.fill_diagonal(overlap, 0.0)
        assert overlap.max(initial=0.0) <= tiled.detector.iou_threshold  # type: ignore[attr-defined]
    assert tiled_found >= whole_found


def camera(tiling: dict[str, object]) -> CameraConfig:
    return CameraConfig.model_validate({"name": "c", "url": "x.avi", "tiling": tiling})


def test_tiling_config_is_validated() -> None:
    assert camera({}).tiling.enabled is False
    with pytest.raises(ValidationError, match="no region"):
        camera({"enabled": True})
    with pytest.raises(ValidationError, match="region"):
        camera({"enabled": True, "region": [100, 0, 50, 10]})
    with pytest.raises(ValidationError):
        camera({"enabled": True, "region": [0, 0, 10, 10], "overlap": 0.9})
    with pytest.raises(ValidationError):
        camera({"enabled": True, "region": [0, 0, 10, 10], "tiles": 4})


def test_the_pipeline_tiles_only_cameras_that_ask_and_keeps_it_across_a_swap() -> None:
    plain = PerceptionPipeline(camera({}), BlobDetector())
    assert isinstance(plain.detector, BlobDetector)
    tiled_camera = camera({"enabled": True, "region": [0, 0, 100, 100]})
    pipeline = PerceptionPipeline(tiled_camera, BlobDetector())
    assert isinstance(pipeline.detector, TiledDetector)
    replacement = BlobDetector()
    pipeline.detector = replacement
    assert isinstance(pipeline.detector, TiledDetector)
    assert pipeline.detector.detector is replacement


def test_batched_model_copy_is_cached_by_hash(tiled: TiledDetector) -> None:
    files = list(Path(tiled._runner.path).parent.glob("*-batch.onnx"))  # type: ignore[union-attr]
    assert len(files) == 1
