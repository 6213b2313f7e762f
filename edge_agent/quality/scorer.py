"""Quality score of an interval's readings: 1 = no fault seen, 0 = faulty.

An ONNX classifier (trained by ``models/train_quality.py``) gives the probability of
each of its classes (clean, stuck, spike, noise, dropout) from
:mod:`features`; the quality score is P(clean). Hard rules come first: any missing
(non-finite) reading, or one outside the metric's physical range, scores 0 without
asking the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.errors import AgentValueError
from edge_agent.inference.errors import InferenceError
from edge_agent.inference.manifest import default_models_dir
from edge_agent.inference.runner import OnnxRunner
from edge_agent.quality.features import (
    DEFAULT_INTERVAL_S,
    FEATURE_NAMES,
    batch_features,
    limits_for,
)

DEFAULT_MODEL = "sensor-quality.onnx"
CLEAN_CLASS = 0
STUCK_CLASS = 1
# Drift is not a class: within one window a slow ramp cannot be told from weather (a
# morning warming), so teaching it only raised false alarms; neighbours must see it.
MODEL_CLASSES: tuple[str, ...] = ("clean", "stuck", "spike", "noise", "dropout")
# Below this score a window counts as faulty.
FAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class QualityResult:
    """A window's quality and, when it is below the threshold, the likeliest fault."""

    score: float
    fault: str | None

    @property
    def flagged(self) -> bool:
        return self.score < FAULT_THRESHOLD


class QualityScorer:
    """Scores windows of readings; ``model_id``/``sha256`` identify the model in reports."""

    def __init__(
        self, model_path: Path | None = None, *, expected_sha256: str | None = None
    ) -> None:
        path = model_path if model_path is not None else default_models_dir() / DEFAULT_MODEL
        # A tree ensemble on a few features: the CPU is faster than a GPU round trip.
        self.runner = OnnxRunner(
            path,
            providers=["cpu"],
            expected_sha256=expected_sha256,
            warmup_runs=1,
            intra_op_threads=1,
        )
        self.model_id: str = self.runner.model_id
        self.sha256: str = self.runner.sha256
        shape = self.runner.input_shapes[0]
        if len(shape) != 2 or shape[1] != len(FEATURE_NAMES):
            raise InferenceError(
                f"{path}: expects features of shape {list(shape)}, "
                f"this runtime computes {len(FEATURE_NAMES)}"
            )
        self._prob_index = self.runner.output_names.index("probabilities")

    def score(
        self,
        metric: str,
        values: npt.NDArray[np.floating],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> float:
        """Quality in [0, 1] of one window of ``metric`` readings ``interval_s`` apart."""
        return self.score_many([(metric, values)], interval_s=interval_s)[0]

    def score_many(
        self,
        windows: Sequence[tuple[str, npt.NDArray[np.floating]]],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> list[float]:
        """Quality of several windows in one model run."""
        return [r.score for r in self.classify_many(windows, interval_s=interval_s)]

    def classify_many(
        self,
        windows: Sequence[tuple[str, npt.NDArray[np.floating]]],
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> list[QualityResult]:
        """Quality and likeliest fault of several windows in one model run."""
        if not interval_s > 0.0:
            raise AgentValueError(f"sampling interval must be positive, got {interval_s}")
        features = np.empty((len(windows), len(FEATURE_NAMES)), dtype=np.float32)
        arrays = [np.asarray(values, dtype=np.float64).ravel() for _, values in windows]
        limits = [limits_for(metric) for metric, _ in windows]
        # Windows of one length share one vectorised feature pass.
        by_length: dict[int, list[int]] = {}
        for index, values in enumerate(arrays):
            by_length.setdefault(values.size, []).append(index)
        for indices in by_length.values():
            chosen = [limits[i] for i in indices]
            features[indices] = batch_features(
                np.stack([arrays[i] for i in indices]),
                np.array([c.minimum for c in chosen]),
                np.array([c.maximum for c in chosen]),
                np.array([c.resolution for c in chosen]),
                np.full(len(indices), interval_s),
            )
        results: list[QualityResult | None] = []
        for row in features:
            if row[1] > 0.0:
                results.append(QualityResult(0.0, "out_of_range"))
            elif row[0] > 0.0:
                results.append(QualityResult(0.0, "dropout"))
            else:
                results.append(None)
        asked = [i for i, r in enumerate(results) if r is None]
        if not asked:
            return [r for r in results if r is not None]
        probabilities = self.runner.run(features[asked])[self._prob_index]
        model_results = iter(
            _result(p, _flat_only_at_floor(arrays[i], limits[i].minimum))
            for i, p in zip(asked, probabilities, strict=True)
        )
        return [r if r is not None else next(model_results) for r in results]


def _flat_only_at_floor(values: npt.NDArray[np.float64], minimum: float) -> bool:
    """True when the window repeats readings only at the metric's physical floor.

    Calm wind (0 m/s) or clean air rests at the floor for hours; a flat run there is the
    world, not a frozen sensor, and the labels of the training data say the same.
    """
    flat = values[1:] == values[:-1]
    return bool(flat.any()) and bool(np.all(values[:-1][flat] == minimum))


def _result(probabilities: npt.NDArray[np.float32], at_floor: bool = False) -> QualityResult:
    clean = float(probabilities[CLEAN_CLASS])
    stuck = float(probabilities[STUCK_CLASS])
    if at_floor and stuck < 1.0:
        # Rule out "stuck" and read the rest of the distribution as it stands.
        clean = clean / (1.0 - stuck)
        probabilities = probabilities.copy()
        probabilities[STUCK_CLASS] = 0.0
    score = float(min(1.0, max(0.0, clean)))
    if score >= FAULT_THRESHOLD:
        return QualityResult(score, None)
    fault = 1 + int(np.argmax(probabilities[1:]))
    return QualityResult(score, MODEL_CLASSES[fault] if fault < len(MODEL_CLASSES) else None)
