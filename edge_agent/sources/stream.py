"""Reading one camera with reconnects: the synchronous core every source builds on.

Failures never spin: every failed open and every read failure waits out the next
backoff delay, and the time the camera was unreachable is yielded as
:class:`Offline` events (one per failed attempt, so a long outage is reported as
it happens, not only once it ends). No frame is ever made up: empty or
all-black reads are counted and dropped, never passed on.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from edge_agent.errors import AgentError
from edge_agent.sources.capture import (
    Capture,
    CaptureFactory,
    SourceKind,
    open_capture,
    redact_url,
    source_kind,
)
from edge_agent.sources.config import CameraConfig
from edge_agent.sources.events import Frame, Offline, SourceEvent
from fieldproof.backoff import Backoff

# A stream that has delivered frames this long has recovered: the next failure
# starts the backoff from the initial delay again.
HEALTHY_S = 10.0
_DEFAULT_FPS = 25.0


class CameraUnavailableError(AgentError):
    """The camera could not be opened within its configured number of attempts."""


@dataclass(slots=True)
class SourceStats:
    """Counters of one source, for health reports and tests."""

    opens: int = 0
    open_failures: int = 0
    read_failures: int = 0
    blank_frames: int = 0
    frames: int = 0
    dropped: int = 0
    delays: deque[float] = field(default_factory=lambda: deque(maxlen=256))


def is_blank(image: npt.NDArray[np.uint8] | None) -> bool:
    """Empty or all-black: what a broken decoder or a reconnecting camera hands out."""
    if image is None or image.size == 0 or image.ndim < 2:
        return True
    # A sparse sample is enough to tell a real picture from a zero-filled buffer.
    return not bool(image[::16, ::16].any())


class StreamReader:
    """Yields frames and offline gaps of one camera until stopped or a file ends.

    ``video_time`` timestamps file frames from 0 by their position in the file
    (for offline analysis); otherwise frames carry ``clock()`` time.
    """

    def __init__(
        self,
        config: CameraConfig,
        *,
        factory: CaptureFactory = open_capture,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
        stop: threading.Event | None = None,
        video_time: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.kind = source_kind(config.url)
        self.stats = SourceStats()
        self.stop = stop or threading.Event()
        self._factory = factory
        self._clock = clock
        self._sleep = sleep or self.stop.wait
        self._video_time = video_time and self.kind is SourceKind.FILE
        self._backoff = Backoff(config.reconnect.policy(), None if rng is None else rng.random)
        self._delivered = 0
        self._last_frame_at: float | None = None
        # File looping: frames and seconds of the passes already played.
        self._offset_frames = 0
        self._offset_s = 0.0
        self._pass_frames = 0
        self._pass_seconds = 0.0

    def events(self) -> Iterator[SourceEvent]:
        offline_since: float | None = None
        consecutive_failures = 0
        max_attempts = self.config.reconnect.max_attempts
        while not self.stop.is_set():
            capture, reason = self._open()
            if capture is None:
                consecutive_failures += 1
                offline_since = self._clock() if offline_since is None else offline_since
                if max_attempts is not None and consecutive_failures >= max_attempts:
                    yield from self._gap(offline_since, self._clock(), reason)
                    raise CameraUnavailableError(
                        f"camera {self.config.name}: cannot open "
                        f"{redact_url(self.config.url)} after {consecutive_failures} "
                        f"attempt(s): {reason}"
                    )
                offline_since = yield from self._wait(offline_since, reason)
                continue
            consecutive_failures = 0
            if offline_since is not None:
                yield from self._gap(offline_since, self._clock(), "reconnected")
                offline_since = None
            try:
                ended = yield from self._read(capture)
            finally:
                capture.release()
            if ended:
                if not self.config.file_loop or self.stop.is_set():
                    return
                if self._pass_frames > 0:
                    # Play the file again, its time running on from where this pass ended.
                    self._offset_frames += self._pass_frames
                    self._offset_s += self._pass_seconds
                    continue
                # A file that yields nothing would loop without pause: back off instead.
                offline_since = yield from self._wait(self._clock(), "file has no frames")
                continue
            self.stats.read_failures += 1
            # A stalled stream only fails once the read timeout runs out: the camera
            # was gone from its last frame on, not from when the failure surfaced.
            now = self._clock()
            last = self._last_frame_at
            offline_since = last if last is not None and last <= now else now
            offline_since = yield from self._wait(offline_since, "read failed")

    def _wait(self, offline_since: float, reason: str) -> Generator[SourceEvent, None, float]:
        delay = self._backoff.next_delay()
        self.stats.delays.append(delay)
        self._sleep(delay)
        now = self._clock()
        yield from self._gap(offline_since, now, reason)
        return now

    def _gap(self, start: float, end: float, reason: str) -> Iterator[SourceEvent]:
        # Waiting for a file happens outside its own timeline: in video time there
        # is no gap to report, only the error if the file never turns up.
        if end > start and not self._video_time:
            yield Offline(start, end, reason)

    def _open(self) -> tuple[Capture | None, str]:
        cfg = self.config
        try:
            capture = self._factory(cfg.url, cfg.open_timeout_s, cfg.read_timeout_s)
        except OSError as exc:
            self.stats.open_failures += 1
            return None, f"{type(exc).__name__}: {exc}"
        if not capture.is_open():
            capture.release()
            self.stats.open_failures += 1
            return None, "capture did not open"
        self.stats.opens += 1
        return capture, ""

    def _read(self, capture: Capture) -> Generator[SourceEvent, None, bool]:
        """Frames until the capture fails; returns True when a file has simply ended."""
        is_file = self.kind is SourceKind.FILE
        fps = capture.fps() or _DEFAULT_FPS
        paced = is_file and self.config.file_pacing == "native"
        opened_at = self._clock()
        position = 0  # frames consumed from this capture, delivered or not
        pending_drops = 0
        while not self.stop.is_set():
            if paced:
                due = math.floor((self._clock() - opened_at) * fps)
                # Behind the file's own clock: skip without decoding to catch up.
                while position < due and capture.grab():
                    position += 1
                    pending_drops += 1
                ahead = position / fps - (self._clock() - opened_at)
                if ahead > 0.0:
                    self._sleep(ahead)
            ok, image = capture.read()
            if not ok:
                self.stats.dropped += pending_drops
                self._pass_frames, self._pass_seconds = position, position / fps
                return is_file
            position += 1
            if image is None or is_blank(image):
                self.stats.blank_frames += 1
                continue
            if self._clock() - opened_at >= HEALTHY_S or is_file:
                self._backoff.reset()
            self.stats.frames += 1
            self.stats.dropped += pending_drops
            self._last_frame_at = self._clock()
            yield Frame(
                image, self._next_index(position), self._timestamp(position, fps), pending_drops
            )
            pending_drops = 0
        return True

    def _next_index(self, position: int) -> int:
        if self._video_time:
            return self._offset_frames + position - 1
        self._delivered += 1
        return self._delivered - 1

    def _timestamp(self, position: int, fps: float) -> float:
        if not self._video_time:
            return self._clock()
        return self._offset_s + (position - 1) / fps
