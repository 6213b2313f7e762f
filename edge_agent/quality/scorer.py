"""Quality score of an interval's readings: 1 = no fault seen, 0 = faulty.

An ONNX classifier (trained by ``models/train_quality.py``) gives the probability of
each of its classes (clean, stuck, spike, noise, dropout) from
:mod:`features`; the quality score is P(clean). Hard rules come first: any missing
(non-finite) reading, or one outside the metric's physical range, scores 0 without
asking the model. Every step is vectorised over the batch, so a batch of windows
scores exactly as each window alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
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
NOISE_CLASS = 3
DROPOUT_CLASS = 4
# Wind is turbulent: minute to minute, gusts zigzag like a noise burst, and the model
# cannot tell them apart from one window. For these metrics the noise class is ruled
# out and the other classes read as they stand (a spike or a frozen vane still shows).
GUSTY_METRICS = frozenset({"wspd"})
# Drift is not a class: within one window a slow ramp cannot be told from weather (a
# morning warming), so teaching it only raised false alarms; neighbours must see it.
MODEL_CLASSES: tuple[str, ...] = ("clean", "stuck", "spike", "noise", "dropout")
# Below this score a window counts as faulty.
FAULT_THRESHOLD = 0.5
# Fault names by index: the model's classes, then the out-of-range rule.
OUT_OF_RANGE = len(MODEL_CLASSES)
_FAULT_NAMES: tuple[str, ...] = (*MODEL_CLASSES, "out_of_range")


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
        if not windows:
            return []
        arrays = [np.asarray(values, dtype=np.float64).ravel() for _, values in windows]
        limits = np.array([_limit_row(metric) for metric, _ in windows])
        intervals = np.full(len(arrays), interval_s)
        lengths = {values.size for values in arrays}
        if len(lengths) == 1:
            features = batch_features(
                np.stack(arrays), limits[:, 0], limits[:, 1], limits[:, 2], intervals
            )
        else:
            # Windows of one length share one vectorised feature pass.
            features = np.empty((len(arrays), len(FEATURE_NAMES)), dtype=np.float32)
            sizes = np.array([values.size for values in arrays])
            for size in sorted(lengths):
                rows = np.flatnonzero(sizes == size)
                features[rows] = batch_features(
                    np.stack([arrays[i] for i in rows]),
                    limits[rows, 0],
                    limits[rows, 1],
                    limits[rows, 2],
                    intervals[rows],
                )
        # Hard rules first: out of range, then missing readings, score 0 unasked.
        outside = features[:, 1] > 0.0
        missing = features[:, 0] > 0.0
        asked = ~(outside | missing)
        scores = np.zeros(len(arrays))
        faults = np.where(outside, OUT_OF_RANGE, DROPOUT_CLASS)
        if asked.any():
            raw = self.runner.run(features[asked])[self._prob_index]
            gusty = limits[asked, 3] > 0.0
            probabilities = _without_noise(raw, gusty) if gusty.any() else raw.astype(np.float64)
            scores[asked] = np.clip(probabilities[:, CLEAN_CLASS], 0.0, 1.0)
            faults[asked] = 1 + np.argmax(probabilities[:, 1:], axis=1)
        names = _FAULT_NAMES
        return [
            QualityResult(score, None if score >= FAULT_THRESHOLD else names[fault])
            for score, fault in zip(scores.tolist(), faults.tolist(), strict=True)
        ]


def _without_noise(
    probabilities: npt.NDArray[np.float32], rows: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """``probabilities`` with the noise class ruled out in ``rows``, the rest rescaled."""
    out = probabilities.astype(np.float64)
    rest = 1.0 - out[rows, NOISE_CLASS]
    picked = out[rows]
    picked[:, NOISE_CLASS] = 0.0
    # A window the model is sure is noise and nothing else has no fault left to name.
    picked /= np.where(rest > 0.0, rest, 1.0)[:, None]
    picked[rest <= 0.0, CLEAN_CLASS] = 1.0
    out[rows] = picked
    return out


@lru_cache(maxsize=256)
def _limit_row(metric: str) -> tuple[float, float, float, float]:
    """Minimum, maximum, resolution and gustiness (1 or 0) of ``metric``, looked up once."""
    limits = limits_for(metric)
    gusty = 1.0 if metric.rsplit("/", 1)[-1] in GUSTY_METRICS else 0.0
    return limits.minimum, limits.maximum, limits.resolution, gusty
