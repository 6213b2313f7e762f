"""Quality score of an interval's readings: 1 = no fault seen, 0 = faulty.

An ONNX classifier (trained by ``models/train_quality.py``) scores stuck values,
spikes, drift and out-of-range readings from :mod:`features`; hard physical-bound
rules come first: any non-finite reading or one outside the metric's physical
range scores 0 without asking the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from edge_agent.inference.errors import InferenceError
from edge_agent.inference.manifest import default_models_dir
from edge_agent.inference.runner import OnnxRunner
from edge_agent.quality.features import FEATURE_NAMES, limits_for, window_features

DEFAULT_MODEL = "sensor-quality.onnx"
CLEAN_CLASS = 0


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

    def score(self, metric: str, values: npt.NDArray[np.floating]) -> float:
        """Quality in [0, 1] of one window of ``metric`` readings."""
        return self.score_many([(metric, values)])[0]

    def score_many(self, windows: Sequence[tuple[str, npt.NDArray[np.floating]]]) -> list[float]:
        """Quality of several windows in one model run."""
        scores: list[float | None] = []
        rows: list[npt.NDArray[np.float32]] = []
        for metric, values in windows:
            limits = limits_for(metric)
            features = window_features(values, limits)
            if features[0] > 0.0:
                scores.append(0.0)
            else:
                scores.append(None)
                rows.append(features)
        if rows:
            outputs = self.runner.run(np.stack(rows).astype(np.float32))
            probabilities = outputs[self._prob_index][:, CLEAN_CLASS]
            it = iter(probabilities.tolist())
            scores = [s if s is not None else float(next(it)) for s in scores]
        return [float(min(1.0, max(0.0, s))) for s in scores if s is not None]
