"""Sensor readings scored by the shipped quality model, one score per sensor and interval."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from edge_agent.errors import AgentError
from fieldproof.wire import ModelRef, Record

if TYPE_CHECKING:
    from edge_agent.quality import QualityScorer
    from edge_agent.sensors import SensorInterval


class QualityWindows:
    """Recent readings per metric, scored by the quality model at each interval's end.

    The model was trained on windows of 8 to 48 consecutive readings, so each metric
    keeps its last 48 and is scored once it has 8; a sensor's score is the lowest of its
    metrics' scores (one faulty metric makes the interval suspect).
    """

    WINDOW = 48
    MIN_READINGS = 8

    def __init__(self, scorer: QualityScorer) -> None:
        self._scorer = scorer
        self._history: dict[str, deque[float]] = {}
        self.model = ModelRef.from_sha256_hex(scorer.model_id, scorer.sha256)

    def score(self, interval: SensorInterval) -> tuple[Record, ...]:
        from edge_agent.quality.features import limits_for

        windows: dict[str, list[tuple[str, np.ndarray]]] = {}
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
        records = []
        for sensor, metric_windows in sorted(windows.items()):
            scores = self._scorer.score_many(metric_windows)
            records.append(Record(name=f"{sensor}/qc", value=min(scores)))
        return tuple(records)
