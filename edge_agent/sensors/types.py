"""What every sensor driver produces and offers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import Field

from fieldproof.config import ConfigModel
from fieldproof.wire import Record


@dataclass(frozen=True, slots=True)
class Reading:
    """One measured value with its SenML name (``<sensor>/<metric>``) and unit."""

    name: str
    unit: str
    value: float
    time: float

    def to_record(self) -> Record:
        return Record(name=self.name, unit=self.unit, value=self.value, time=self.time)


@dataclass(slots=True)
class DriverStats:
    """Counters a driver keeps; bad input is counted and skipped, never fatal."""

    samples: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0
    errors: int = 0


class SensorConfigBase(ConfigModel):
    """Fields every sensor config has; each driver adds ``type: Literal[KEY]``."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="Record name prefix.")

    def data_seconds_per_second(self) -> float:
        """Seconds of the readings' own time per second of wall time (1 for a live sensor)."""
        return 1.0


class SensorDriver(Protocol):
    """A sensor read one sample at a time."""

    name: str
    stats: DriverStats

    def read(self) -> Sequence[Reading] | None:
        """The next sample's readings (blocking); ``[]`` if none came, None once exhausted."""
        ...

    def close(self) -> None: ...
