"""The quality scorer on real data: a station the shipped model never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_agent.errors import AgentValueError
from edge_agent.quality import (
    FEATURE_NAMES,
    QualityScorer,
    batch_features,
    limits_for,
    window_features,
)
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


def _mixed_windows() -> list[tuple[str, np.ndarray]]:
    """Windows of several metrics and lengths, clean and faulty, as an agent batches them."""
    windows = [("temp", _temperature(s, 24)) for s in range(4)]
    windows += [("bme280/temp", _temperature(9, 12)), ("pres", 101_300 + 10 * np.arange(30.0))]
    windows += [("rh", np.full(8, 200.0)), ("wspd", np.abs(_temperature(3, 48)) / 5)]
    frozen = _temperature(5, 24)
    frozen[8:] = frozen[8]
    spiky = _temperature(6, 24)
    spiky[11] += 12.0
    gap = _temperature(7, 24)
    gap[3] = np.nan
    calm = np.concatenate([np.zeros(20), np.abs(_temperature(8, 28)) / 6])
    windows += [("temp", frozen), ("dew", spiky), ("rh", gap + 40.0), ("wspd", calm)]
    return windows


def test_batch_equals_single(scorer: QualityScorer) -> None:
    windows = _mixed_windows()
    for interval_s in (60.0, 3600.0):
        batch = scorer.classify_many(windows, interval_s=interval_s)
        single = [scorer.classify_many([w], interval_s=interval_s)[0] for w in windows]
        # The same numbers, not just close ones: a batch must not change any verdict.
        assert batch == single
        assert scorer.score_many(windows, interval_s=interval_s) == [r.score for r in batch]
        assert [scorer.score(m, v, interval_s=interval_s) for m, v in windows] == [
            r.score for r in batch
        ]
    assert (batch[6].score, batch[6].fault) == (0.0, "out_of_range")
    assert (batch[10].score, batch[10].fault) == (0.0, "dropout")
    assert batch[8].flagged
    assert scorer.classify_many([]) == []


def test_batch_features_equal_one_window_at_a_time() -> None:
    windows = [(m, v) for m, v in _mixed_windows() if v.size == 24]
    limits = [limits_for(m) for m, _ in windows]
    rows = batch_features(
        np.stack([v for _, v in windows]),
        np.array([lim.minimum for lim in limits]),
        np.array([lim.maximum for lim in limits]),
        np.array([lim.resolution for lim in limits]),
        np.full(len(windows), 600.0),
    )
    for row, (_, values), lim in zip(rows, windows, limits, strict=True):
        assert np.array_equal(row, window_features(values, lim, 600.0), equal_nan=True)


def test_refuses_unknown_metric_short_windows_and_bad_interval(scorer: QualityScorer) -> None:
    with pytest.raises(AgentValueError, match="no quality limits for metric 'voltage'"):
        scorer.score("voltage", np.ones(10))
    with pytest.raises(AgentValueError, match="at least 4 readings"):
        scorer.score("temp", np.ones(3))
    with pytest.raises(AgentValueError, match="sampling interval"):
        scorer.score("temp", np.ones(10), interval_s=0.0)


def test_model_identity(scorer: QualityScorer) -> None:
    assert scorer.model_id == "sensor-quality-gbt-v3"
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


def test_repeats_at_the_floor_are_no_flat_run_and_no_typical_step() -> None:
    """Calm (0 m/s) between gusts: no flat run, and the gusts' steps set the scale."""
    wind = limits_for("wspd")
    names = list(FEATURE_NAMES)
    calm = np.array([0.0] * 12 + [1.2, 1.5, 0.9, 1.4, 1.1, 1.6, 1.0, 1.3])
    row = window_features(calm, wind, 60.0)
    assert row[names.index("longest_flat_fraction")] == 0.0
    assert row[names.index("floor_fraction")] == pytest.approx(12 / 20)
    # Median of the 8 live steps (1.2, 0.3, 0.6, 0.5, 0.3, 0.5, 0.6, 0.3): 0.5 m/s, 5 units.
    assert row[names.index("log_typical_step")] == pytest.approx(np.log10(1 + 5.0), abs=1e-4)
    frozen = calm.copy()
    frozen[:12] = 2.0
    row = window_features(frozen, wind, 60.0)
    assert row[names.index("longest_flat_fraction")] == pytest.approx(11 / 19)


def test_noise_is_ruled_out_for_gusty_metrics_only() -> None:
    from edge_agent.quality.scorer import NOISE_CLASS, _without_noise

    probabilities = np.array(
        [[0.3, 0.05, 0.05, 0.55, 0.05], [0.3, 0.05, 0.05, 0.55, 0.05], [0.0, 0, 0, 1.0, 0]],
        dtype=np.float32,
    )
    out = _without_noise(probabilities, np.array([True, False, True]))
    assert out[0, NOISE_CLASS] == 0.0
    assert out[0].sum() == pytest.approx(1.0)
    assert out[0, 0] == pytest.approx(0.3 / 0.45)
    assert np.array_equal(out[1], probabilities[1].astype(np.float64))
    assert out[2, 0] == 1.0


def test_gusty_wind_is_not_a_noise_burst_but_a_spike_still_is(scorer: QualityScorer) -> None:
    rng = np.random.default_rng(11)
    gusts = np.round(np.clip(2.5 + rng.normal(0.0, 0.7, 48), 0.0, None), 1)
    spiked = gusts.copy()
    spiked[20] += 12.0
    calm, spike = scorer.classify_many([("wspd", gusts), ("wspd", spiked)], interval_s=60.0)
    assert not calm.flagged
    assert calm.fault is None
    assert spike.flagged
    assert spike.fault == "spike"
