"""The quality scorer: clean windows score high, each fault kind scores low."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_agent.errors import AgentValueError
from edge_agent.quality import FEATURE_NAMES, QualityScorer, limits_for, window_features

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def scorer() -> QualityScorer:
    return QualityScorer()


@pytest.fixture(scope="module")
def heldout() -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """Real TMY3 windows from the held-out months, clean or with one injected fault."""
    with np.load(FIXTURES / "heldout_windows.npz") as data:
        windows = [
            (str(metric), row[:length])
            for metric, row, length in zip(
                data["metrics"], data["values"], data["lengths"], strict=True
            )
        ]
        return windows, data["kinds"].astype(str)


def _temperature(seed: int, n: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(15 + np.cumsum(rng.normal(0, 0.8, n)), 1)


def test_heldout_precision_and_recall(
    scorer: QualityScorer, heldout: tuple[list[tuple[str, np.ndarray]], np.ndarray]
) -> None:
    windows, kinds = heldout
    flagged = np.asarray(scorer.score_many(windows)) < 0.5
    truth = kinds != "clean"
    precision = (flagged & truth).sum() / flagged.sum()
    recall = (flagged & truth).sum() / truth.sum()
    assert precision > 0.85
    assert recall > 0.8
    for kind, floor in (("stuck", 0.95), ("out_of_range", 1.0), ("spike", 0.7), ("drift", 0.5)):
        assert flagged[kinds == kind].mean() >= floor, kind


def test_stuck_sensor_scores_low(
    scorer: QualityScorer, heldout: tuple[list[tuple[str, np.ndarray]], np.ndarray]
) -> None:
    windows, kinds = heldout
    clean = [(m, w.copy()) for (m, w), k in zip(windows, kinds, strict=True) if k == "clean"]
    stuck = []
    for metric, values in clean[:40]:
        if np.ptp(values[2:]) > 2 * limits_for(metric).resolution:
            values[2:] = values[2]
            stuck.append((metric, values))
    scores = scorer.score_many(stuck)
    assert len(scores) >= 20
    assert np.mean(np.asarray(scores) < 0.5) > 0.9


def test_physical_bounds_and_non_finite_score_zero(scorer: QualityScorer) -> None:
    values = _temperature(1)
    values[3] = -9999.0
    assert scorer.score("temp", values) == 0.0
    values = _temperature(1)
    values[5] = np.nan
    assert scorer.score("temp", values) == 0.0
    humidity = np.full(12, 55.0) + np.arange(12)
    humidity[4] = 104.0
    assert scorer.score("rh", humidity) == 0.0


def test_batch_equals_single(scorer: QualityScorer) -> None:
    windows = [("temp", _temperature(s)) for s in range(5)] + [("rh", np.full(8, 200.0))]
    batch = scorer.score_many(windows)
    assert batch == pytest.approx([scorer.score(m, v) for m, v in windows], abs=1e-6)
    assert batch[-1] == 0.0


def test_refuses_unknown_metric_and_short_windows(scorer: QualityScorer) -> None:
    with pytest.raises(AgentValueError, match="no quality limits for metric 'voltage'"):
        scorer.score("voltage", np.ones(10))
    with pytest.raises(AgentValueError, match="at least 4 readings"):
        scorer.score("temp", np.ones(3))


def test_model_identity(scorer: QualityScorer) -> None:
    assert scorer.model_id == "sensor-quality-gbt-v1"
    assert len(scorer.sha256) == 64


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(min_value=4, max_value=60),
        elements=st.floats(min_value=-100, max_value=100, allow_nan=False),
    )
)
def test_score_is_a_probability_and_features_are_finite(values: np.ndarray) -> None:
    features = window_features(values, limits_for("temp"))
    assert features.shape == (len(FEATURE_NAMES),)
    assert np.all(np.isfinite(features))
    score = _SCORER.score("temp", values)
    assert 0.0 <= score <= 1.0


_SCORER = QualityScorer()
