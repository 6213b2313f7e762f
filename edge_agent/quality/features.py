"""Fault features of one interval's readings of one metric.

Every feature is scale-free (relative to the window itself or to the sensor's
resolution), so one model serves every metric and any sampling rate. The training
script in ``models/`` imports this module, so training and runtime agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge_agent.errors import AgentValueError
from fieldproof.metrics import CATALOGUE

FEATURE_NAMES: tuple[str, ...] = (
    "out_of_range_fraction",
    "longest_flat_run",
    "log_std",
    "log_max_robust_z",
    "log_max_second_diff",
    "monotonic_fraction",
    "log_trend_to_noise",
    "log_max_step",
    "log_max_isolated",
)
FEATURE_VERSION = 1
MIN_READINGS = 4

# Smallest change each sensor reports; flat runs and noise floors are measured in it.
RESOLUTION: dict[str, float] = {
    "temp": 0.1,
    "dew": 0.1,
    "rh": 1.0,
    "pres": 10.0,
    "wspd": 0.1,
    "wdir": 1.0,
    "ghi": 1.0,
    "dni": 1.0,
    "dhi": 1.0,
    "pm25": 0.1,
    "pm10": 0.1,
    "co2": 1.0,
}


@dataclass(frozen=True, slots=True)
class MetricLimits:
    """Physical range and resolution used for one metric's features."""

    minimum: float
    maximum: float
    resolution: float


def limits_for(metric: str) -> MetricLimits:
    """Limits of a catalogued metric (``bme280/temp`` → ``temp``); others are refused."""
    key = metric.rsplit("/", 1)[-1]
    entry = CATALOGUE.get(key)
    if entry is None or key not in RESOLUTION:
        raise AgentValueError(
            f"no quality limits for metric {metric!r} (known: {', '.join(sorted(RESOLUTION))})"
        )
    return MetricLimits(entry.minimum, entry.maximum, RESOLUTION[key])


def _longest_run(flags: npt.NDArray[np.bool_]) -> int:
    if not flags.any():
        return 0
    padded = np.concatenate([[0], flags.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())


def window_features(
    values: npt.NDArray[np.floating], limits: MetricLimits
) -> npt.NDArray[np.float32]:
    """The ``FEATURE_NAMES`` vector of one window (at least ``MIN_READINGS`` values)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    if n < MIN_READINGS:
        raise AgentValueError(f"need at least {MIN_READINGS} readings, got {n}")
    res = limits.resolution
    finite = np.isfinite(v)
    bad = ~finite | (v < limits.minimum) | (v > limits.maximum)
    out_fraction = float(bad.mean())
    # Non-finite readings are replaced by the median so the shape features stay defined.
    if not finite.all():
        v = np.where(finite, v, np.median(v[finite]) if finite.any() else 0.0)
    d = np.diff(v)
    d2 = np.diff(d)
    flat = np.abs(d) < res / 2
    longest_flat = _longest_run(flat) / (n - 1)
    std = float(v.std())
    median = float(np.median(v))
    mad = float(np.median(np.abs(v - median))) * 1.4826
    robust_z = float(np.abs(v - median).max()) / (mad + res)
    second = float(np.abs(d2).max()) / (float(np.median(np.abs(d2))) + res) if d2.size else 0.0
    monotonic = abs(float(np.sign(d[~flat]).sum())) / (n - 1)
    # Least-squares line in closed form (np.polyfit costs more than the model).
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    centred = v - v.mean()
    slope = float(t @ centred) / float(t @ t)
    residual = centred - slope * t
    trend = abs(slope) * (n - 1) / (float(residual.std()) + res)
    typical_step = float(np.median(np.abs(d))) + res
    step = float(np.abs(d).max()) / typical_step
    # A spike leaves both neighbours in the same direction; a level shift does not.
    isolated = 0.0
    if n >= 3:
        up, down = d[:-1], -d[1:]
        same_way = np.sign(up) == np.sign(down)
        departure = np.where(same_way, np.minimum(np.abs(up), np.abs(down)), 0.0)
        isolated = float(departure.max()) / typical_step
    return np.asarray(
        [
            out_fraction,
            longest_flat,
            np.log10(std / res + 1.0),
            np.log10(robust_z + 1.0),
            np.log10(second + 1.0),
            monotonic,
            np.log10(trend + 1.0),
            np.log10(step + 1.0),
            np.log10(isolated + 1.0),
        ],
        dtype=np.float32,
    )
