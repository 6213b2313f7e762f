"""Fault features of one interval's readings of one metric.

Every feature is scale-free (relative to the window itself, to its own typical step
or to the sensor's resolution), so one model serves every metric; the sampling
interval is an input of its own, because what is normal for a flat run or a step
depends on it (a one-minute temperature sits still for half an hour; an hourly one
does not). The training script in ``models/`` imports this module, so training and
runtime agree.
"""

from __future__ import annotations

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
    "floor_fraction",
    "log_max_local_rough",
)
FEATURE_VERSION = 2
MIN_READINGS = 4
# The sampling intervals the model was trained on; others are clamped into this range.
MIN_INTERVAL_S = 60.0
MAX_INTERVAL_S = 3600.0
DEFAULT_INTERVAL_S = 3600.0
# Successive readings closer than this many resolutions count as the same value.
FLAT_TOLERANCE = 1e-3

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


def _longest_runs(flags: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int64], ...]:
    """Per row: length and first index of the longest run of ``True``."""
    m, n = flags.shape
    if n == 0:
        zero = np.zeros(m, dtype=np.int64)
        return zero, zero
    index = np.broadcast_to(np.arange(n), (m, n))
    last_false = np.maximum.accumulate(np.where(flags, -1, index), axis=1)
    length = index - last_false
    end = length.argmax(axis=1)
    longest = length[np.arange(m), end]
    return longest, end - longest + 1


def _log(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.log10(x + 1.0)


def batch_features(
    values: npt.NDArray[np.floating],
    minimum: npt.NDArray[np.float64],
    maximum: npt.NDArray[np.float64],
    resolution: npt.NDArray[np.float64],
    interval_s: npt.NDArray[np.float64],
) -> npt.NDArray[np.float32]:
    """``FEATURE_NAMES`` of each row of ``values`` (windows of one length), one call.

    ``minimum``, ``maximum``, ``resolution`` and ``interval_s`` hold one value per row,
    so windows of different metrics share the call.
    """
    v = np.array(values, dtype=np.float64, ndmin=2)
    m, n = v.shape
    if n < MIN_READINGS:
        raise AgentValueError(f"need at least {MIN_READINGS} readings, got {n}")
    rows = np.arange(m)
    res = np.asarray(resolution, dtype=np.float64)[:, None]
    interval = np.clip(np.asarray(interval_s, dtype=np.float64), MIN_INTERVAL_S, MAX_INTERVAL_S)
    finite = np.isfinite(v)
    missing = 1.0 - finite.mean(axis=1)
    with np.errstate(invalid="ignore"):
        outside = ((v < minimum[:, None]) | (v > maximum[:, None])).mean(axis=1)
    # Missing readings are carried forward (back, at the start) so the shape features
    # stay defined; the missing fraction itself says the window is broken.
    if not finite.all():
        index = np.maximum.accumulate(np.where(finite, np.arange(n), -1), axis=1)
        first = np.where(finite.any(axis=1), finite.argmax(axis=1), 0)
        index = np.where(index < 0, first[:, None], index)
        v = np.nan_to_num(v[rows[:, None], index], nan=0.0)
    d = v[:, 1:] - v[:, :-1]
    ad = np.abs(d)
    # A stuck sensor repeats its value exactly; a slow signal on a fine sensor does not.
    flat = ad < res * FLAT_TOLERANCE
    flat_len, flat_start = _longest_runs(flat)
    # The typical change per reading outside the longest flat run: a stuck stretch
    # must not hide how lively the rest of the window is.
    csum = np.concatenate([np.zeros((m, 1)), np.cumsum(ad, axis=1)], axis=1)
    inside = csum[rows, flat_start + flat_len] - csum[rows, flat_start]
    rest = (n - 1) - flat_len
    active = np.where(rest > 0, (csum[:, -1] - inside) / np.maximum(rest, 1), 0.0)
    typical = np.median(ad, axis=1)
    scale = typical + res[:, 0]
    med_d = np.median(d, axis=1)
    dev = np.abs(d - med_d[:, None])
    diff_z = dev.max(axis=1) / (np.median(dev, axis=1) * 1.4826 + res[:, 0])
    up, down = d[:, :-1], -d[:, 1:]
    departure = np.where(up * down > 0.0, np.minimum(np.abs(up), np.abs(down)), 0.0)
    isolated = departure.max(axis=1, initial=0.0) / scale
    d2 = np.abs(up + down)
    second_ratio = d2.mean(axis=1) / (ad.mean(axis=1) + res[:, 0])
    # Sign changes between successive non-flat steps: a noisy sensor zigzags.
    sign = np.where(flat, 0.0, np.sign(d))
    order = np.argsort(flat, axis=1, kind="stable")
    moving = np.take_along_axis(sign, order, axis=1)
    count = (~flat).sum(axis=1)
    pairs = np.arange(n - 2)[None, :] < (count - 1)[:, None]
    flips = ((moving[:, 1:] * moving[:, :-1] < 0.0) & pairs).sum(axis=1)
    sign_changes = flips / np.maximum(count - 1, 1)
    # Worst short stretch of roughness against the window's own: a noise burst.
    k = min(6, n - 2)
    c2 = np.concatenate([np.zeros((m, 1)), np.cumsum(d2, axis=1)], axis=1)
    local = (c2[:, k:] - c2[:, :-k]) / k
    rough = local.max(axis=1) / (np.median(d2, axis=1) + res[:, 0])
    monotonic = np.abs(sign.sum(axis=1)) / (n - 1)
    # Least-squares line in closed form (np.polyfit costs more than the model).
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    centred = v - v.mean(axis=1, keepdims=True)
    slope = centred @ t / float(t @ t)
    residual = centred - slope[:, None] * t
    trend = np.abs(slope) * (n - 1) / (residual.std(axis=1) + res[:, 0])
    zero_len, _ = _longest_runs(v == 0.0)
    # Readings at the physical floor: calm wind or clean air, where a flat run is normal.
    floor = (v == minimum[:, None]).mean(axis=1)
    step = ad.max(axis=1) / scale
    return np.stack(
        [
            missing,
            outside,
            np.log10(interval / 3600.0),
            np.full(m, np.log10(n)),
            flat_len / (n - 1),
            _log(flat_len * interval / 3600.0),
            _log(active / res[:, 0]),
            _log(typical / res[:, 0]),
            _log(diff_z),
            _log(isolated),
            _log(step),
            _log(second_ratio),
            sign_changes,
            monotonic,
            _log(trend),
            zero_len / n,
            floor,
            _log(rough),
        ],
        axis=1,
    ).astype(np.float32)


def window_features(
    values: npt.NDArray[np.floating],
    limits: MetricLimits,
    interval_s: float = DEFAULT_INTERVAL_S,
) -> npt.NDArray[np.float32]:
    """The ``FEATURE_NAMES`` vector of one window (at least ``MIN_READINGS`` values)."""
    if not interval_s > 0.0:
        raise AgentValueError(f"sampling interval must be positive, got {interval_s}")
    v = np.asarray(values, dtype=np.float64).ravel()
    one = np.ones(1)
    rows = batch_features(
        v[None, :],
        one * limits.minimum,
        one * limits.maximum,
        one * limits.resolution,
        one * interval_s,
    )
    row: npt.NDArray[np.float32] = rows[0]
    return row
