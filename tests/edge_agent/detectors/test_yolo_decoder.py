"""The ``yolo`` post-processing gives Ultralytics' own boxes on the same raw output.

The fixture holds a raw YOLOv8n output and the result of Ultralytics'
``non_max_suppression`` + ``scale_boxes`` on it (``fixtures/make_fixtures.py``).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from edge_agent.detectors import COCO_CLASSES
from edge_agent.detectors.base import class_mask_for
from edge_agent.detectors.plugins.yolo import postprocess
from edge_agent.detectors.preprocess import letterbox
from tests.edge_agent.detectors.frames import FIXTURES, vtest_frames


@pytest.fixture(scope="module")
def fixture() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "yolo_nms.npz") as data:
        return {k: data[k] for k in data.files}


def test_letterbox_matches_ultralytics(fixture: dict[str, np.ndarray]) -> None:
    padded, transform = letterbox(vtest_frames()[0], 640, 640)
    assert hashlib.sha256(padded.tobytes()).hexdigest() == str(fixture["letterbox_sha256"])
    assert (transform.pad_x, transform.pad_y) == (0.0, 80.0)


@pytest.mark.parametrize("setting", ["all", "traffic"])
def test_postprocess_matches_ultralytics_nms(fixture: dict[str, np.ndarray], setting: str) -> None:
    expected_classes = fixture[f"{setting}_classes"]
    assert len(expected_classes) > 20, "fixture must exercise NMS with many detections"
    classes = None
    if setting == "traffic":
        classes = [COCO_CLASSES[i] for i in (0, 1, 2, 3, 5, 7)]
    _, transform = letterbox(vtest_frames()[0], 640, 640)
    got = postprocess(
        fixture["raw"],
        transform,
        score_threshold=float(fixture[f"{setting}_conf"]),
        iou_threshold=float(fixture[f"{setting}_iou"]),
        class_mask=class_mask_for(classes),
    )
    np.testing.assert_array_equal(got.class_ids, expected_classes)
    np.testing.assert_allclose(got.scores, fixture[f"{setting}_scores"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.boxes, fixture[f"{setting}_boxes"], rtol=0, atol=1e-3)
