"""Constant-velocity Kalman filter over boxes (centre x, centre y, width, height).

Noise scales with the box size, as in SORT/ByteTrack, so near and far objects are
predicted with comparable relative uncertainty.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]

_NDIM = 4
_POSITION_WEIGHT = 1.0 / 20.0
_VELOCITY_WEIGHT = 1.0 / 160.0

_MOTION = np.eye(2 * _NDIM, dtype=np.float64)
for _i in range(_NDIM):
    _MOTION[_i, _NDIM + _i] = 1.0
_UPDATE = np.eye(_NDIM, 2 * _NDIM, dtype=np.float64)


def box_to_measurement(box: npt.ArrayLike) -> Vector:
    x1, y1, x2, y2 = np.asarray(box, dtype=np.float64).reshape(4)
    return np.array([(x1 + x2) / 2.0, (y1 + y2) / 2.0, x2 - x1, y2 - y1], dtype=np.float64)


def state_to_box(mean: Vector) -> tuple[float, float, float, float]:
    cx, cy, w, h = (float(v) for v in mean[:_NDIM])
    w, h = max(w, 0.0), max(h, 0.0)
    return (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)


def _scale(mean_or_measurement: Vector) -> Vector:
    w, h = float(mean_or_measurement[2]), float(mean_or_measurement[3])
    return np.array([w, h, w, h], dtype=np.float64)


def initiate(measurement: Vector) -> tuple[Vector, Matrix]:
    """State and covariance of a new track seen once at ``measurement``."""
    mean = np.concatenate([measurement, np.zeros(_NDIM)])
    scale = _scale(measurement)
    std = np.concatenate([2.0 * _POSITION_WEIGHT * scale, 10.0 * _VELOCITY_WEIGHT * scale])
    return mean, np.diag(np.square(std) + 1e-6)


def predict(mean: Vector, covariance: Matrix) -> tuple[Vector, Matrix]:
    """Advance one frame at constant velocity."""
    scale = _scale(mean)
    std = np.concatenate([_POSITION_WEIGHT * scale, _VELOCITY_WEIGHT * scale])
    noise = np.diag(np.square(std) + 1e-6)
    new_mean: Vector = _MOTION @ mean
    new_cov: Matrix = _MOTION @ covariance @ _MOTION.T + noise
    return new_mean, new_cov


def update(mean: Vector, covariance: Matrix, measurement: Vector) -> tuple[Vector, Matrix]:
    """Correct the state with an observed box."""
    std = _POSITION_WEIGHT * _scale(mean)
    innovation_cov = _UPDATE @ covariance @ _UPDATE.T + np.diag(np.square(std) + 1e-6)
    gain = np.linalg.solve(innovation_cov, _UPDATE @ covariance).T
    new_mean: Vector = mean + gain @ (measurement - _UPDATE @ mean)
    new_cov: Matrix = covariance - gain @ innovation_cov @ gain.T
    return new_mean, new_cov
