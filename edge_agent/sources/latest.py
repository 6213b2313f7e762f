"""Newest-frame delivery for live cameras.

A grabber thread reads the camera continuously and holds only the latest frame.
When inference is slower than the stream the consumer gets the newest frame and
the number of frames it replaced; offline gaps are queued and never dropped.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Iterator

from edge_agent.sources.events import Frame, Offline, SourceEvent
from edge_agent.sources.stream import StreamReader


class LatestFrameGrabber:
    """Runs a :class:`StreamReader` in a thread; ``events()`` yields newest frames."""

    def __init__(self, reader: StreamReader) -> None:
        self.reader = reader
        self._lock = threading.Condition()
        self._latest: Frame | None = None
        self._replaced = 0
        self._gaps: deque[Offline] = deque()
        self._finished = False
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"grab-{reader.config.name}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self.reader.stop.set()
        with self._lock:
            self._lock.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            for event in self.reader.events():
                with self._lock:
                    if isinstance(event, Offline):
                        self._gaps.append(event)
                    else:
                        if self._latest is not None:
                            self._replaced += 1 + self._latest.dropped
                        self._latest = event
                    self._lock.notify_all()
        except BaseException as exc:  # handed to the consumer thread, re-raised there
            self._error = exc
        finally:
            with self._lock:
                self._finished = True
                self._lock.notify_all()

    def events(self, poll_s: float = 1.0) -> Iterator[SourceEvent]:
        """Gaps first, then the newest frame; ends when the reader ends or is stopped."""
        while True:
            with self._lock:
                while not self._gaps and self._latest is None and not self._finished:
                    self._lock.wait(poll_s)
                if self._gaps:
                    event: SourceEvent | None = self._gaps.popleft()
                elif self._latest is not None:
                    frame = self._latest
                    event = dataclasses.replace(frame, dropped=frame.dropped + self._replaced)
                    self.reader.stats.dropped += self._replaced
                    self._latest, self._replaced = None, 0
                else:
                    event = None
            if event is None:
                if self._error is not None:
                    raise self._error
                return
            yield event
