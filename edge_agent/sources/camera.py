"""One camera as a stream of events, choosing the delivery that fits the source."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator

from edge_agent.sources.capture import CaptureFactory, SourceKind, open_capture
from edge_agent.sources.config import CameraConfig
from edge_agent.sources.events import SourceEvent
from edge_agent.sources.latest import LatestFrameGrabber
from edge_agent.sources.prefetch import prefetched
from edge_agent.sources.stream import SourceStats, StreamReader


class CameraSource:
    """Frames and offline gaps of one camera.

    Live cameras (streams, devices) are read by a grabber thread that keeps only
    the newest frame; files are read at their own pace or paced at their native
    frame rate (``file_pacing``), skipping frames to keep up, by a reader thread
    ``decode_ahead`` frames ahead, so decoding overlaps with inference.
    """

    def __init__(self, reader: StreamReader, decode_ahead: int = 2) -> None:
        self.reader = reader
        self.config = reader.config
        self.decode_ahead = decode_ahead
        self._grabber = LatestFrameGrabber(reader) if reader.kind is not SourceKind.FILE else None

    @property
    def live(self) -> bool:
        return self._grabber is not None

    @property
    def stats(self) -> SourceStats:
        return self.reader.stats

    def events(self) -> Iterator[SourceEvent]:
        if self._grabber is None:
            if self.decode_ahead < 1:
                return self.reader.events()
            return prefetched(
                self.reader.events(), depth=self.decode_ahead, name=f"decode-{self.config.name}"
            )
        self._grabber.start()
        return self._grabber.events()

    def close(self) -> None:
        self.reader.stop.set()
        if self._grabber is not None:
            self._grabber.close()


def open_camera(
    config: CameraConfig,
    *,
    factory: CaptureFactory = open_capture,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
    stop: threading.Event | None = None,
    video_time: bool = False,
    rng: random.Random | None = None,
    decode_ahead: int = 2,
) -> CameraSource:
    """A :class:`CameraSource` for ``config``; nothing is opened until ``events()``."""
    reader = StreamReader(
        config,
        factory=factory,
        clock=clock,
        sleep=sleep,
        stop=stop,
        video_time=video_time,
        rng=rng,
    )
    return CameraSource(reader, decode_ahead)
