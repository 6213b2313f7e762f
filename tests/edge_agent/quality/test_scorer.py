"""The quality scorer on real data: a station the shipped model never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_agent.errors import AgentValueError
from edge_agent.quality import FEATURE_NAMES, QualityScorer, limits_for, window_features
from edge_agent.quality.scorer import MODEL_CLASSES

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def scorer() -> QualityScorer:
    return QualityScorer()


@pytest.fixture(scope="module")
def heldout() -> tuple[list[tuple[str, np.ndarray]], np.ndarray]:
    """Daily windows (24 hourly readings) of Beijing Wanshouxigong: clean or injected."""
    with np.load(FIXTURES / "heldout_station_windows.npz") as data:
        windows = [
            (str(metric), row) for metric, row in zip(data["metrics"], data["values"], strict=True)
        ]
        return windows, data["kinds"].astype(str)


def _temperature(seed: int, n: int = 24) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(15 + np.cumsum(rng.normal(0, 0.8, n)), 1)


def test_heldout_station_flag_rate_and_recall(
    scorer: QualityScorer, heldout: tuple[list[tuple[str, np.ndarray]], np.ndarray]
) -> None:
    windows, kinds = heldout
    flagged = np.asarray(scorer.score_many(windows)) < 0.5
    assert (kinds == "clean").sum() >= 100
    assert flagged[kinds == "clean"].mean() <= 0.05
    for kind in ("stuck", "spike", "out_of_range", "dropout"):
        assert flagged[kinds == kind].mean() >= 0.85, kind


def test_stuck_sensor_scores_low_and_is_named(
    scorer: QualityScorer, heldout: tuple[list[tuple[str, np.ndarray]], np.ndarray]
) -> None:
    windows, kinds = heldout
    stuck = []
    for (metric, values), kind in zip(windows, kinds, strict=True):
        if kind == "clean" and np.ptp(values[4:]) > 3 * limits_for(metric).resolution:
            frozen = values.copy()
            frozen[4:] = frozen[4]
            stuck.append((metric, frozen))
    results = scorer.classify_many(stuck)
    assert len(results) >= 50
    assert np.mean([r.flagged for r in results]) > 0.9
    assert np.mean([r.fault == "stuck" for r in results]) > 0.8


def test_physical_bounds_and_non_finite_score_zero(scorer: QualityScorer) -> None:
    values = _temperature(1)
    values[3] = -9999.0
    assert scorer.score("temp", values) == 0.0
    values = _temperature(1)
    values[5] = np.nan
    (result,) = scorer.classify_many([("temp", values)])
    assert (result.score, result.fault) == (0.0, "dropout")
    humidity = np.full(12, 55.0) + np.arange(12)
    humidity[4] = 104.0
    (result,) = scorer.classify_many([("rh", humidity)])
    assert (result.score, result.fault) == (0.0, "out_of_range")


def test_batch_equals_single(scorer: QualityScorer) -> None:
    windows = [("temp", _temperature(s, 24)) for s in range(4)]
    windows += [("bme280/temp", _temperature(9, 12)), ("pres", 101_300 + 10 * np.arange(30.0))]
    windows += [("rh", np.full(8, 200.0)), ("wspd", np.abs(_temperature(3, 48)) / 5)]
    for interval_s in (60.0, 3600.0):
        batch = scorer.classify_many(windows, interval_s=interval_s)
        single = [scorer.classify_many([w], interval_s=interval_s)[0] for w in windows]
        assert [r.fault for r in batch] == [r.fault for r in single]
        assert [r.score for r in batch] == pytest.approx([r.score for r in single], abs=1e-6)
        assert scorer.score_many(windows, interval_s=interval_s) == [r.score for r in batch]
    assert batch[6].score == 0.0


def test_refuses_unknown_metric_short_windows_and_bad_interval(scorer: QualityScorer) -> None:
    with pytest.raises(AgentValueError, match="no quality limits for metric 'voltage'"):
        scorer.score("voltage", np.ones(10))
    with pytest.raises(AgentValueError, match="at least 4 readings"):
        scorer.score("temp", np.ones(3))
    with pytest.raises(AgentValueError, match="sampling interval"):
        scorer.score("temp", np.ones(10), interval_s=0.0)


def test_model_identity(scorer: QualityScorer) -> None:
    assert scorer.model_id == "sensor-quality-gbt-v2"
    assert len(scorer.sha256) == 64
    row = window_features(_temperature(2), limits_for("temp"))[None, :]
    probabilities = scorer.runner.run(row)[scorer.runner.output_names.index("probabilities")]
    assert probabilities.shape == (1, len(MODEL_CLASSES))


@settings(max_examples=60, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(min_value=4, max_value=60),
        elements=st.floats(min_value=-100, max_value=100, allow_nan=False),
    ),
    st.sampled_from([60.0, 600.0, 3600.0, 86_400.0]),
)
def test_score_is_a_probability_and_features_are_finite(
    values: np.ndarray, interval_s: float
) -> None:
    features = window_features(values, limits_for("temp"), interval_s)
    assert features.shape == (len(FEATURE_NAMES),)
    assert np.all(np.isfinite(features))
    score = _SCORER.score("temp", values, interval_s=interval_s)
    assert 0.0 <= score <= 1.0


_SCORER = QualityScorer()


def test_a_calm_at_the_physical_floor_is_not_a_stuck_sensor(scorer: QualityScorer) -> None:
    """Half an hour of 0 m/s at one-minute sampling is calm air; at 2.3 m/s it is frozen."""
    rng = np.random.default_rng(7)
    gusts = np.round(np.abs(rng.normal(2.0, 0.8, 18)), 1)
    calm = np.concatenate([np.zeros(30), gusts])
    frozen = np.concatenate([np.full(30, 2.3), gusts])
    calm_result, frozen_result = scorer.classify_many(
        [("wspd", calm), ("wspd", frozen)], interval_s=60.0
    )
    assert calm_result.fault != "stuck"
    assert frozen_result.flagged
    assert frozen_result.fault == "stuck"


def test_stuck_is_ruled_out_where_the_flat_run_sits_at_the_floor() -> None:
    from edge_agent.quality.scorer import _flat_only_at_floor, _result

    assert _flat_only_at_floor(np.array([0.0, 0.0, 0.0, 1.2, 0.8]), 0.0)
    assert not _flat_only_at_floor(np.array([0.0, 0.0, 1.2, 1.2, 0.8]), 0.0)
    assert not _flat_only_at_floor(np.array([0.3, 1.2, 0.8]), 0.0)
    probabilities = np.array([0.2, 0.7, 0.05, 0.03, 0.02], dtype=np.float32)
    assert _result(probabilities).fault == "stuck"
    at_floor = _result(probabilities, at_floor=True)
    assert not at_floor.flagged
    assert at_floor.score == pytest.approx(0.2 / 0.3)
    # Another fault still stands once "stuck" is ruled out.
    spiky = np.array([0.1, 0.6, 0.25, 0.03, 0.02], dtype=np.float32)
    assert _result(spiky, at_floor=True).fault == "spike"
