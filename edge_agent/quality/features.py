"""Fault features of one interval's readings of one metric.

Every feature is scale-free (relative to the window itself, to its own typical step
or to the sensor's resolution), so one model serves every metric; the sampling
interval is an input of its own, because what is normal for a flat run or a step
depends on it (a one-minute temperature sits still for half an hour; an hourly one
does not). The training script in ``models/`` imports this module, so training and
runtime agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from edge_agent.errors import AgentValueError
from fieldproof.metrics import CATALOGUE

FEATURE_NAMES: tuple[str, ...] = (
    "missing_fraction",
    "out_of_range_fraction",
    "log_interval_hours",
    "log_readings",
    "longest_flat_fraction",
    "log_longest_flat_hours",
    "log_active_step",
    "log_typical_step",
    "log_max_diff_z",
    "log_max_isolated",
    "log_max_step",
    "log_second_to_first",
    "sign_change_fraction",
    "monotonic_fraction",
    "log_trend_to_noise",
    "zero_run_fraction",
    "log_max_local_rough",
)
FEATURE_VERSION = 2
MIN_READINGS = 4
# The sampling intervals the model was trained on; others are clamped into this range.
MIN_INTERVAL_S = 60.0
MAX_INTERVAL_S = 3600.0
DEFAULT_INTERVAL_S = 3600.0

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


def _longest_run(flags: npt.NDArray[np.bool_]) -> tuple[int, int]:
    """Length and start of the longest run of ``True``."""
    if not flags.any():
        return 0, 0
    padded = np.concatenate([[False], flags, [False]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    lengths = edges[1::2] - edges[::2]
    best = int(lengths.argmax())
    return int(lengths[best]), int(edges[2 * best])


def _log(x: float) -> float:
    return math.log10(x + 1.0)


def window_features(
    values: npt.NDArray[np.floating],
    limits: MetricLimits,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> npt.NDArray[np.float32]:
    """The ``FEATURE_NAMES`` vector of one window (at least ``MIN_READINGS`` values)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    n = v.size
    if n < MIN_READINGS:
        raise AgentValueError(f"need at least {MIN_READINGS} readings, got {n}")
    if not interval_s > 0.0:
        raise AgentValueError(f"sampling interval must be positive, got {interval_s}")
    interval_s = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, float(interval_s)))
    res = limits.resolution
    finite = np.isfinite(v)
    missing = float(1.0 - finite.mean())
    with np.errstate(invalid="ignore"):
        outside = float(((v < limits.minimum) | (v > limits.maximum)).mean())
    # Missing readings are carried forward so the shape features stay defined; the
    # missing fraction itself says the window is broken.
    if missing > 0.0:
        if not finite.any():
            v = np.zeros(n)
        else:
            index = np.where(finite, np.arange(n), 0)
            np.maximum.accumulate(index, out=index)
            v = v[index]
            v[: int(np.argmax(finite))] = v[int(np.argmax(finite))]
    d = v[1:] - v[:-1]
    ad = np.abs(d)
    flat = ad < res / 2
    flat_len, flat_start = _longest_run(flat)
    # The typical change per reading, from the part of the window that is not the
    # longest flat run: a stuck stretch must not hide how lively the rest is.
    rest = np.concatenate([ad[:flat_start], ad[flat_start + flat_len :]])
    active = float(rest.mean()) if rest.size else 0.0
    typical = float(np.median(ad))
    scale = typical + res
    med_d = float(np.median(d))
    mad_d = float(np.median(np.abs(d - med_d))) * 1.4826
    diff_z = float(np.abs(d - med_d).max()) / (mad_d + res)
    isolated = 0.0
    second_ratio = 0.0
    sign_changes = 0.0
    rough = 0.0
    if n >= 3:
        up, down = d[:-1], -d[1:]
        same_way = (up * down) > 0.0
        departure = np.where(same_way, np.minimum(np.abs(up), np.abs(down)), 0.0)
        isolated = float(departure.max()) / scale
        d2 = d[1:] - d[:-1]
        second_ratio = float(np.abs(d2).mean()) / (float(ad.mean()) + res)
        moving = d[~flat]
        if moving.size >= 2:
            sign_changes = float((moving[1:] * moving[:-1] < 0.0).mean())
        # Worst short stretch of roughness against the window's own: a noise burst.
        k = min(6, d2.size)
        csum = np.concatenate([[0.0], np.cumsum(np.abs(d2))])
        local = (csum[k:] - csum[:-k]) / k
        rough = float(local.max()) / (float(np.median(np.abs(d2))) + res)
    moving_all = d[~flat]
    monotonic = abs(float(np.sign(moving_all).sum())) / (n - 1)
    # Least-squares line in closed form (np.polyfit costs more than the model).
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    centred = v - v.mean()
    slope = float(t @ centred) / float(t @ t)
    residual = centred - slope * t
    trend = abs(slope) * (n - 1) / (float(residual.std()) + res)
    zero_len, _ = _longest_run(v == 0.0)
    step = float(ad.max()) / scale
    return np.asarray(
        [
            missing,
            outside,
            math.log10(interval_s / 3600.0),
            math.log10(n),
            flat_len / (n - 1),
            _log(flat_len * interval_s / 3600.0),
            _log(active / res),
            _log(typical / res),
            _log(diff_z),
            _log(isolated),
            _log(step),
            _log(second_ratio),
            sign_changes,
            monotonic,
            _log(trend),
            zero_len / n,
            _log(rough),
        ],
        dtype=np.float32,
    )
