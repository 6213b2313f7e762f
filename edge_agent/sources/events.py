"""What a camera source delivers: frames, and explicit offline gaps."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame. ``dropped``: frames skipped since the previous delivered one."""

    image: npt.NDArray[np.uint8]
    index: int
    timestamp: float
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Offline:
    """The camera was unreachable from ``start`` to ``end`` (seconds, source clock)."""

    start: float
    end: float
    reason: str


SourceEvent = Frame | Offline
