"""NanoDet-m on real frames of vtest.avi: pedestrians, and the van parked top right."""

from __future__ import annotations

import numpy as np
import pytest

from edge_agent.detectors import TRAFFIC_CLASSES, Detections, create_detector
from edge_agent.detectors.plugins.nanodet import NanoDetDetector, integral_distances
from tests.edge_agent.detectors.frames import vtest_frames


@pytest.fixture(scope="module")
def detector() -> NanoDetDetector:
    built = create_detector("nanodet")
    assert isinstance(built, NanoDetDetector)
    return built


@pytest.fixture(scope="module")
def results(detector: NanoDetDetector) -> list[Detections]:
    return [detector.detect(frame) for frame in vtest_frames()]


def test_finds_people_in_every_frame(results: list[Detections]) -> None:
    for dets in results:
        people = dets.boxes[dets.class_ids == 0]
        assert len(people) >= 3
        heights = people[:, 3] - people[:, 1]
        widths = people[:, 2] - people[:, 0]
        # Pedestrians in this scene stand upright, 40-120 px tall.
        assert np.median(heights / widths) > 1.5
        assert 40 < float(np.median(heights)) < 120


def test_finds_the_parked_van(results: list[Detections]) -> None:
    vehicles = 0
    for dets in results:
        names = dets.class_names()
        for box, name in zip(dets.boxes, names, strict=True):
            centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            if name in ("car", "truck", "bus") and centre_x > 640 and centre_y < 120:
                vehicles += 1
                break
    assert vehicles == len(results)


def test_output_contract(results: list[Detections], detector: NanoDetDetector) -> None:
    allowed = {TRAFFIC_CLASSES.index(n) for n in TRAFFIC_CLASSES}
    assert allowed
    for dets in results:
        assert dets.boxes.dtype == np.float32
        assert dets.boxes.shape == (len(dets), 4)
        assert dets.scores.dtype == np.float32
        assert dets.class_ids.dtype == np.int64
        assert set(dets.class_names()) <= set(TRAFFIC_CLASSES)
        assert np.all(dets.scores > 0.35)
        assert np.all(dets.boxes[:, 0] <= dets.boxes[:, 2])
        assert np.all(dets.boxes[:, 2] <= 768)
        assert np.all(dets.boxes[:, 3] <= 576)
    assert detector.model_id == "nanodet-m-coco80-416"
    assert len(detector.sha256) == 64


def test_integral_decoding_of_one_hot_bins() -> None:
    logits = np.full((1, 44), -50.0, dtype=np.float32)
    for side, bin_index in enumerate((2, 0, 10, 5)):
        logits[0, side * 11 + bin_index] = 50.0
    np.testing.assert_allclose(integral_distances(logits, 8)[0], [16, 0, 80, 40], atol=1e-4)
