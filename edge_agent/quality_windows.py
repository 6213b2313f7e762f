"""Sensor readings scored by the shipped quality model, one score per sensor and interval."""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from edge_agent.errors import AgentError
from edge_agent.health.stats import SensorFault, StatsRegistry
from edge_agent.quality.flags import DEFAULT_RAISE_AFTER_S, SensorFaultFlags
from fieldproof.wire import ModelRef, Record

if TYPE_CHECKING:
    from edge_agent.quality import QualityScorer
    from edge_agent.sensors import SensorInterval

log = logging.getLogger(__name__)


# The sampling interval assumed when an interval does not say (hourly, as trained first).
DEFAULT_STEP_S = 3600.0


class QualityWindows:
    """Recent readings per metric, scored by the quality model at each interval's end.

    The model was trained on windows of 8 to 48 consecutive readings, so each metric
    keeps its last 48 and is scored once it has 8; a sensor's score is the lowest of its
    metrics' scores (one faulty metric makes the interval suspect).

    A sensor whose windows stay faulty for ``flag_after_s`` is flagged in health (and
    ``stats``) with the fault the model saw, and logged; the flag clears on a clean window.
    """

    WINDOW = 48
    MIN_READINGS = 8

    def __init__(
        self,
        scorer: QualityScorer,
        *,
        stats: StatsRegistry | None = None,
        flag_after_s: float = DEFAULT_RAISE_AFTER_S,
        time_scale: dict[str, float] | None = None,
    ) -> None:
        self._scorer = scorer
        self._stats = stats
        # A replayed sensor plays its file faster than real time: the model wants the
        # readings' own spacing, not the wall clock's.
        self._time_scale = time_scale or {}
        self.flags = SensorFaultFlags(raise_after_s=flag_after_s)
        self._history: dict[str, deque[float]] = {}
        self.model = ModelRef.from_sha256_hex(scorer.model_id, scorer.sha256)

    def score(self, interval: SensorInterval) -> tuple[Record, ...]:
        from edge_agent.quality.features import limits_for

        windows: dict[str, list[tuple[str, np.ndarray]]] = {}
        steps: dict[str, float] = {}
        span = interval.end - interval.start
        for series in interval.series:
            try:
                limits_for(series.name)
            except AgentError:
                continue  # a metric the model knows nothing about
            history = self._history.setdefault(series.name, deque(maxlen=self.WINDOW))
            history.extend(series.values)
            if len(history) >= self.MIN_READINGS:
                sensor = series.name.rsplit("/", 1)[0]
                windows.setdefault(sensor, []).append((series.name, np.array(history)))
                if series.values and span > 0:
                    scale = self._time_scale.get(sensor, 1.0)
                    steps[sensor] = span * scale / len(series.values)
        records = []
        for sensor, metric_windows in sorted(windows.items()):
            results = self._scorer.classify_many(
                metric_windows, interval_s=steps.get(sensor, DEFAULT_STEP_S)
            )
            worst = min(results, key=lambda r: r.score)
            records.append(Record(name=f"{sensor}/qc", value=worst.score))
            change = self.flags.update(sensor, worst, interval.end)
            if change is not None:
                flag = change.flag
                if change.raised:
                    log.warning(
                        "sensor %s: quality windows faulty since %.0f (%s)",
                        flag.sensor,
                        flag.since,
                        flag.fault or "fault type unknown",
                    )
                else:
                    log.info("sensor %s: quality windows clean again", flag.sensor)
        if self._stats is not None:
            self._stats.report_sensor_faults(
                tuple(SensorFault(f.sensor, f.fault, f.since) for f in self.flags.active())
            )
        return tuple(records)
