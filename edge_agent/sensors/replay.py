"""Replay a recorded series (CSV or Parquet) as a sensor, optionally time-compressed.

Rows are replayed in file order with their original spacing divided by ``speed``
(``speed: 3600`` plays an hour per second). Values that are empty or not numbers
are counted as bad and left out; the rest of the row is still delivered.

Recorded files have holes and splices: where the time between two rows runs backwards
or jumps ahead by more than ``max_gap_intervals`` nominal intervals (the median spacing
of the file), the row is replayed one nominal interval after the previous one and a
warning names the row, so a year-long hole does not silence the sensor for a year.
"""

from __future__ import annotations

import csv
import importlib
import itertools
import logging
import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from edge_agent.errors import AgentError, AgentValueError
from edge_agent.sensors.types import DriverStats, Reading, SensorConfigBase
from fieldproof.metrics import metric_for

KEY = "replay"

log = logging.getLogger(__name__)


class ReplayConfig(SensorConfigBase):
    """A CSV or Parquet file replayed as a live sensor."""

    type: Literal["replay"] = Field(description="Driver key.")
    path: Path = Field(description="CSV (header row) or Parquet file.")
    time_column: str = Field(default="time", description="Unix seconds or ISO 8601 times.")
    columns: tuple[str, ...] | None = Field(
        default=None, description="Columns to replay; default: every catalogued metric present."
    )
    units: dict[str, str] = Field(
        default_factory=dict, description="SenML units of columns not in the metric catalogue."
    )
    speed: float = Field(default=1.0, gt=0.0, description="Time compression factor.")
    realtime: bool = Field(
        default=True, description="Wait between rows; false replays as fast as it is read."
    )
    retime: bool = Field(
        default=True, description="Stamp readings with replay time instead of the file's."
    )
    loop: bool = Field(default=False, description="Start over at the end of the file.")
    max_gap_intervals: float = Field(
        default=10.0,
        gt=1.0,
        description="A jump ahead by more than this many nominal intervals (the file's "
        "median row spacing), or any step back in time, is replayed as one nominal interval.",
    )

    def data_seconds_per_second(self) -> float:
        return self.speed


def parse_time(raw: Any) -> float:
    if isinstance(raw, datetime):
        return raw.timestamp()
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    text = str(raw).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise AgentValueError(f"{raw!r} is neither unix seconds nor an ISO 8601 time") from exc


def read_rows(path: Path) -> list[dict[str, Any]]:
    """All rows of a CSV or Parquet file as dictionaries."""
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            parquet: Any = importlib.import_module("pyarrow.parquet")
            rows: list[dict[str, Any]] = parquet.read_table(path).to_pylist()
            return rows
        with path.open(newline="") as handle:
            return list(csv.DictReader(handle))
    except OSError as exc:
        raise AgentError(f"replay {path}: cannot read: {exc.strerror or exc}") from exc


class ReplayDriver:
    """Delivers one row of readings per ``read()``; None once the file is done."""

    def __init__(
        self,
        config: ReplayConfig,
        rows: Sequence[dict[str, Any]] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.name = config.name
        self.stats = DriverStats()
        self._clock = clock
        self._sleep = sleep
        self._rows = list(rows) if rows is not None else read_rows(config.path)
        if not self._rows:
            raise AgentError(f"sensor {config.name}: {config.path} has no rows")
        header = set(self._rows[0])
        if config.time_column not in header:
            raise AgentError(
                f"sensor {config.name}: no time column {config.time_column!r} in {config.path}"
            )
        self._units = self._column_units(header)
        self._iter = self._replay()

    def _column_units(self, header: set[str]) -> dict[str, str]:
        cfg = self.config
        wanted = cfg.columns
        if wanted is None:
            wanted = tuple(c for c in sorted(header) if c in cfg.units or metric_for(c) is not None)
        units = {}
        for column in wanted:
            if column not in header:
                raise AgentError(f"sensor {cfg.name}: column {column!r} not in {cfg.path}")
            metric = metric_for(column)
            unit = cfg.units.get(column) or (metric.unit if metric else None)
            if unit is None:
                raise AgentError(
                    f"sensor {cfg.name}: column {column!r} is not a catalogued metric; "
                    "give its unit under 'units'"
                )
            units[column] = unit
        return units

    @classmethod
    def from_config(cls, config: ReplayConfig) -> ReplayDriver:
        return cls(config)

    def nominal_interval(self) -> float:
        """The file's median spacing between consecutive rows (1 s if it cannot tell)."""
        times: list[float] = []
        for row in self._rows[:1000]:
            try:
                times.append(parse_time(row[self.config.time_column]))
            except (AgentValueError, KeyError):
                continue
        steps = [b - a for a, b in itertools.pairwise(times) if b > a]
        return statistics.median(steps) if steps else 1.0

    def _replay(self) -> Iterator[list[Reading]]:
        cfg = self.config
        wall_start = self._clock()
        nominal = self.nominal_interval()
        position = 0.0  # replayed file seconds since the first row, never decreasing
        previous: float | None = None
        while True:
            for index, row in enumerate(self._rows):
                try:
                    file_time = parse_time(row[cfg.time_column])
                except AgentValueError:
                    self.stats.bad_frames += 1
                    continue
                if previous is not None:
                    step = file_time - previous
                    if not 0.0 < step <= cfg.max_gap_intervals * nominal:
                        log.warning(
                            "sensor %s: row %d of %s steps %+.0f s in time (nominal %.0f s); "
                            "replayed one nominal interval later",
                            self.name, index, cfg.path, step, nominal,
                        )  # fmt: skip
                        step = nominal
                    position += step
                previous = file_time
                replay_s = position / cfg.speed
                if cfg.realtime:
                    wait = wall_start + replay_s - self._clock()
                    if wait > 0.0:
                        self._sleep(wait)
                stamp = wall_start + replay_s if cfg.retime else file_time
                readings = []
                for column, unit in self._units.items():
                    value = _number(row.get(column))
                    if value is None:
                        self.stats.bad_frames += 1
                        continue
                    readings.append(Reading(f"{self.name}/{column}", unit, value, stamp))
                self.stats.samples += 1
                yield readings
            if not cfg.loop or previous is None:
                return
            # The next loop starts one nominal interval after this one's last row.
            previous = None
            position += nominal

    def read(self) -> Sequence[Reading] | None:
        return next(self._iter, None)

    def close(self) -> None:
        self._iter = iter(())


def _number(raw: Any) -> float | None:
    if raw is None or isinstance(raw, bool):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


CONFIG = ReplayConfig
DRIVER = ReplayDriver
