"""The overlapped stream gives the same detections, in order, as frame-by-frame detection."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pytest

from edge_agent.detectors import create_detector
from edge_agent.detectors.stream import detect_stream
from tests.edge_agent.detectors.frames import vtest_frames


def test_stream_matches_detect_in_order() -> None:
    detector = create_detector("nanodet")
    frames = vtest_frames()
    streamed = list(detect_stream(detector, frames, depth=2))
    assert [f is g for (f, _), g in zip(streamed, frames, strict=True)] == [True] * len(frames)
    for (_, got), frame in zip(streamed, frames, strict=True):
        np.testing.assert_array_equal(got.boxes, detector.detect(frame).boxes)


def test_source_error_reaches_the_consumer() -> None:
    detector = create_detector("nanodet")

    def broken() -> Iterator[npt.NDArray[np.uint8]]:
        yield vtest_frames()[0]
        raise OSError("camera unplugged")

    stream = detect_stream(detector, broken())
    next(stream)
    with pytest.raises(OSError, match="camera unplugged"):
        next(stream)


def test_consumer_may_stop_early() -> None:
    detector = create_detector("nanodet")
    endless = (vtest_frames()[0] for _ in range(10_000))
    for count, _ in enumerate(detect_stream(detector, endless), start=1):
        if count == 3:
            break
