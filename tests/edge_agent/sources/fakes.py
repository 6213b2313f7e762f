"""Scripted captures and a fake clock for the source tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from edge_agent.sources.capture import Capture


def picture(i: int, h: int = 48, w: int = 64) -> npt.NDArray[np.uint8]:
    """A non-black frame whose content depends on ``i``."""
    image = np.full((h, w, 3), 40, dtype=np.uint8)
    x = (i * 3) % (w - 8)
    image[10:30, x : x + 8] = 220
    return image


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))


class ScriptedCapture:
    """Delivers ``frames`` then fails reads; ``opened=False`` models a refused open."""

    def __init__(
        self,
        frames: list[npt.NDArray[np.uint8]],
        *,
        opened: bool = True,
        fps: float = 10.0,
        on_read: Callable[[], None] | None = None,
    ) -> None:
        self._frames = list(frames)
        self._opened = opened
        self._fps = fps
        self._on_read = on_read
        self.released = False
        self.reads = 0
        self.grabs = 0

    def is_open(self) -> bool:
        return self._opened

    def read(self) -> tuple[bool, npt.NDArray[np.uint8] | None]:
        if self._on_read is not None:
            self._on_read()
        if not self._frames:
            return False, None
        self.reads += 1
        return True, self._frames.pop(0)

    def grab(self) -> bool:
        if not self._frames:
            return False
        self.grabs += 1
        self._frames.pop(0)
        return True

    def fps(self) -> float:
        return self._fps

    def release(self) -> None:
        self.released = True


class ScriptedFactory:
    """Hands out one scripted outcome per open attempt (a Capture or an exception)."""

    def __init__(self, outcomes: list[Capture | Exception]) -> None:
        self.outcomes = list(outcomes)
        self.attempts = 0

    def __call__(self, url: str | int, open_timeout_s: float, read_timeout_s: float) -> Capture:
        self.attempts += 1
        if not self.outcomes:
            return ScriptedCapture([], opened=False)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
