"""Per-sensor fault flags from a run of faulty quality windows.

One faulty window is weak evidence (weather can look like a fault); a sensor whose
windows stay faulty for ``raise_after_s`` is flagged, naming the fault the model saw
most often during that stretch. The flag clears once its windows have stayed clean
for ``clear_after_s``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from edge_agent.errors import AgentValueError
from edge_agent.quality.scorer import QualityResult

DEFAULT_RAISE_AFTER_S = 6 * 3600.0


@dataclass(frozen=True, slots=True)
class SensorFlag:
    """A sensor flagged as faulty since ``since`` (when its windows turned faulty)."""

    sensor: str
    fault: str | None
    since: float


@dataclass(frozen=True, slots=True)
class FlagChange:
    """A flag raised (``raised``) or cleared."""

    flag: SensorFlag
    raised: bool


@dataclass(slots=True)
class _Track:
    faulty_since: float | None = None
    clean_since: float | None = None
    faults: Counter[str] = field(default_factory=Counter)
    flag: SensorFlag | None = None


class SensorFaultFlags:
    """Tracks, per sensor, how long its quality windows have stayed faulty."""

    def __init__(
        self, raise_after_s: float = DEFAULT_RAISE_AFTER_S, clear_after_s: float = 0.0
    ) -> None:
        if raise_after_s < 0.0 or clear_after_s < 0.0:
            raise AgentValueError("raise_after_s and clear_after_s must not be negative")
        self.raise_after_s = raise_after_s
        self.clear_after_s = clear_after_s
        self._tracks: dict[str, _Track] = {}

    def update(self, sensor: str, result: QualityResult, now: float) -> FlagChange | None:
        """Record the sensor's latest window (scored at ``now``); a raised or cleared flag."""
        track = self._tracks.setdefault(sensor, _Track())
        if result.flagged:
            track.clean_since = None
            if track.faulty_since is None:
                track.faulty_since = now
                track.faults.clear()
            if result.fault is not None:
                track.faults[result.fault] += 1
            if track.flag is None and now - track.faulty_since >= self.raise_after_s:
                # Ties go to the fault seen first (Counter keeps insertion order).
                fault = track.faults.most_common(1)[0][0] if track.faults else None
                track.flag = SensorFlag(sensor, fault, track.faulty_since)
                return FlagChange(track.flag, raised=True)
            return None
        track.faulty_since = None
        if track.flag is None:
            return None
        if track.clean_since is None:
            track.clean_since = now
        if now - track.clean_since >= self.clear_after_s:
            flag, track.flag = track.flag, None
            track.clean_since = None
            return FlagChange(flag, raised=False)
        return None

    def active(self) -> tuple[SensorFlag, ...]:
        """The flags currently raised, by sensor name."""
        return tuple(t.flag for _, t in sorted(self._tracks.items()) if t.flag is not None)
