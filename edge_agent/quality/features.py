"""Fault features of one interval's readings of one metric.

Every feature is scale-free (relative to the window itself, to its own typical step
or to the sensor's resolution), so one model serves every metric; the sampling
interval is an input of its own, because what is normal for a flat run or a step
depends on it (a one-minute temperature sits still for half an hour; an hourly one
does not). Flat runs leave out readings at the metric's physical floor: calm wind
or clean air rests there for hours, and the training labels say the same. The
training script in ``models/`` imports this module, so training and
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
FEATURE_VERSION = 3
# Features kept as log10(1 + x): ratios and lengths that spread over decades.
_LOGGED = np.array(
    [
        i
        for i, name in enumerate(FEATURE_NAMES)
        if name.startswith("log_") and name not in ("log_interval_hours", "log_readings")
    ]
)
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
    index = np.arange(n)
    last_false = np.maximum.accumulate(np.where(flags, -1, index), axis=1)
    length = index - last_false
    end = length.argmax(axis=1)
    longest = length[np.arange(m), end]
    return longest, end - longest + 1


def _median(
    x: npt.NDArray[np.float64], keep: npt.NDArray[np.bool_], count: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Row medians of the ``keep`` entries (``count`` per row); 0 where a row keeps none."""
    ordered = np.sort(np.where(keep, x, np.inf), axis=1)
    rows = np.arange(len(x))
    low = np.maximum(count - 1, 0) // 2
    median: npt.NDArray[np.float64] = (ordered[rows, low] + ordered[rows, count // 2]) * 0.5
    median[count == 0] = 0.0
    return median


def batch_features(
    values: npt.NDArray[np.floating],
    minimum: npt.NDArray[np.float64],
    maximum: npt.NDArray[np.float64],
    resolution: npt.NDArray[np.float64],
    interval_s: npt.NDArray[np.float64],
) -> npt.NDArray[np.float32]:
    """``FEATURE_NAMES`` of each row of ``values`` (windows of one length), one call.

    ``minimum``, ``maximum``, ``resolution`` and ``interval_s`` hold one value per row,
    so windows of different metrics share the call. Every feature of a row depends on
    that row alone, so a batch gives the same rows as one window at a time.
    """
    v = np.array(values, dtype=np.float64, ndmin=2)
    m, n = v.shape
    if n < MIN_READINGS:
        raise AgentValueError(f"need at least {MIN_READINGS} readings, got {n}")
    rows = np.arange(m)
    low = np.asarray(minimum, dtype=np.float64)[:, None]
    high = np.asarray(maximum, dtype=np.float64)[:, None]
    res = np.asarray(resolution, dtype=np.float64)[:, None]
    res1 = res[:, 0]
    interval = np.clip(np.asarray(interval_s, dtype=np.float64), MIN_INTERVAL_S, MAX_INTERVAL_S)
    out = np.empty((m, len(FEATURE_NAMES)), dtype=np.float64)
    finite = np.isfinite(v)
    all_finite = bool(finite.all())
    out[:, 0] = 0.0 if all_finite else 1.0 - finite.sum(axis=1) / n
    with np.errstate(invalid="ignore"):
        out[:, 1] = ((v < low) | (v > high)).sum(axis=1) / n
    # Missing readings are carried forward (back, at the start) so the shape features
    # stay defined; the missing fraction itself says the window is broken.
    if not all_finite:
        index = np.maximum.accumulate(np.where(finite, np.arange(n), -1), axis=1)
        first = np.where(finite.any(axis=1), finite.argmax(axis=1), 0)
        index = np.where(index < 0, first[:, None], index)
        v = np.nan_to_num(v[rows[:, None], index], nan=0.0)
    d = v[:, 1:] - v[:, :-1]
    ad = np.abs(d)
    at_floor = v == low
    # A stuck sensor repeats its value exactly; a slow signal on a fine sensor does not.
    # Repeats at the physical floor are calm wind or clean air, not a frozen sensor.
    flat = (ad < res * FLAT_TOLERANCE) & ~at_floor[:, :-1]
    flat_len, flat_start = _longest_runs(flat)
    # Steps from floor to floor say nothing of how lively the sensor is: an anemometer
    # below its starting speed reads 0, then jumps to a gust. Typical steps leave
    # them out, or every gust after a calm would look like a spike.
    live = ~(at_floor[:, :-1] & at_floor[:, 1:])
    live_count = live.sum(axis=1)
    # The typical change per reading outside the longest flat run: a stuck stretch
    # must not hide how lively the rest of the window is.
    csum = np.zeros((m, n))
    np.cumsum(ad, axis=1, out=csum[:, 1:])
    inside = csum[rows, flat_start + flat_len] - csum[rows, flat_start]
    rest = live_count - flat_len
    active = (csum[:, -1] - inside) / np.maximum(rest, 1)
    active[rest <= 0] = 0.0
    typical = _median(ad, live, live_count)
    scale = typical + res1
    dev = np.abs(d - _median(d, live, live_count)[:, None])
    dev[~live] = 0.0
    diff_z = dev.max(axis=1) / (_median(dev, live, live_count) * 1.4826 + res1)
    up, down = d[:, :-1], -d[:, 1:]
    departure = np.where(up * down > 0.0, np.minimum(ad[:, :-1], ad[:, 1:]), 0.0)
    d2 = np.abs(up + down)
    # Sign changes between successive non-flat steps: a noisy sensor zigzags.
    sign = np.sign(d)
    sign[flat] = 0.0
    order = np.argsort(flat, axis=1, kind="stable")
    moving = sign[rows[:, None], order]
    count = n - 1 - flat.sum(axis=1)
    pairs = np.arange(n - 2) < (count - 1)[:, None]
    flips = ((moving[:, 1:] * moving[:, :-1] < 0.0) & pairs).sum(axis=1)
    # Worst short stretch of roughness against the window's own: a noise burst.
    k = min(6, n - 2)
    c2 = np.zeros((m, n - 1))
    np.cumsum(d2, axis=1, out=c2[:, 1:])
    local = (c2[:, k:] - c2[:, :-k]).max(axis=1) / k
    # Least-squares line in closed form (np.polyfit costs more than the model).
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2
    centred = v - v.sum(axis=1, keepdims=True) / n
    slope = centred @ t / float(t @ t)
    residual = centred - slope[:, None] * t
    noise = np.sqrt(np.einsum("ij,ij->i", residual, residual) / n)
    zero_len, _ = _longest_runs(v == 0.0)
    out[:, 2] = np.log10(interval / 3600.0)
    out[:, 3] = np.log10(n)
    out[:, 4] = flat_len / (n - 1)
    out[:, 5] = flat_len * interval / 3600.0
    out[:, 6] = active / res1
    out[:, 7] = typical / res1
    out[:, 8] = diff_z
    out[:, 9] = departure.max(axis=1) / scale
    out[:, 10] = ad.max(axis=1) / scale
    out[:, 11] = d2.sum(axis=1) / (n - 2) / (ad.sum(axis=1) / (n - 1) + res1)
    out[:, 12] = flips / np.maximum(count - 1, 1)
    out[:, 13] = np.abs(sign.sum(axis=1)) / (n - 1)
    out[:, 14] = np.abs(slope) * (n - 1) / (noise + res1)
    out[:, 15] = zero_len / n
    # Readings at the physical floor: calm wind or clean air, where a flat run is normal.
    out[:, 16] = at_floor.sum(axis=1) / n
    live2 = live[:, 1:] & live[:, :-1]
    out[:, 17] = local / (_median(d2, live2, live2.sum(axis=1)) + res1)
    # Ratios and counts spread over decades: log10(1 + x) keeps them comparable.
    logged = _LOGGED
    out[:, logged] = np.log10(out[:, logged] + 1.0)
    return out.astype(np.float32)


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
