"""Capped exponential backoff with jitter: the one policy every reconnect loop uses.

The delay after ``n`` failures is drawn from ``[(1 - jitter) * c, c]`` where the
ceiling ``c = min(max_s, initial_s * factor**n)``. The cap is applied before the
power is taken, so no number of failures can overflow: past the exponent at which
the cap is reached, the ceiling is ``max_s`` without computing anything. A
``jitter`` of 1 is full jitter (uniform over ``[0, c]``); jitter only shortens a
delay, so ``max_s`` stays a hard upper bound, and devices that lost their camera or
broker together do not retry in step.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from fieldproof.errors import FieldproofValueError

UniformSource = Callable[[], float]
"""Returns a float in ``[0, 1)``, like :meth:`random.Random.random`."""


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    """How delays grow: from ``initial_s`` by ``factor`` per failure, capped at ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 1.0
    # Failures from which the ceiling is max_s: the exponent is never taken past it.
    _saturation: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.initial_s) and self.initial_s > 0.0):
            raise FieldproofValueError(f"backoff initial_s must be > 0, got {self.initial_s}")
        if not (math.isfinite(self.max_s) and self.max_s >= self.initial_s):
            raise FieldproofValueError(
                f"backoff max_s must be finite and >= initial_s, got {self.max_s}"
            )
        if not (math.isfinite(self.factor) and self.factor >= 1.0):
            raise FieldproofValueError(f"backoff factor must be >= 1, got {self.factor}")
        if not 0.0 <= self.jitter <= 1.0:
            raise FieldproofValueError(f"backoff jitter must be in [0, 1], got {self.jitter}")
        saturation = (
            math.log(self.max_s / self.initial_s) / math.log(self.factor)
            if self.factor > 1.0
            else math.inf
        )
        object.__setattr__(self, "_saturation", saturation)

    def ceiling(self, failures: int) -> float:
        """The longest delay after ``failures`` earlier failures; never above ``max_s``."""
        if failures >= self._saturation:
            return self.max_s
        # Below saturation factor**failures < max_s / initial_s: finite by construction.
        return min(self.max_s, self.initial_s * self.factor ** max(0, failures))

    def delay(self, failures: int, uniform: float) -> float:
        """The delay for a draw ``uniform`` in ``[0, 1)``: the ceiling less its jitter share."""
        return self.ceiling(failures) * (1.0 - self.jitter * uniform)


class Backoff:
    """Failure count of one retry loop: :meth:`next_delay` per failure, :meth:`reset` on success.

    ``uniform`` is the random source (``random.Random(seed).random`` in tests).
    """

    __slots__ = ("_uniform", "failures", "policy")

    def __init__(self, policy: BackoffPolicy, uniform: UniformSource | None = None) -> None:
        self.policy = policy
        self._uniform = uniform if uniform is not None else random.Random().random
        self.failures = 0

    def next_delay(self) -> float:
        """Seconds to wait after one more failure."""
        delay = self.policy.delay(self.failures, self._uniform())
        self.failures += 1
        return delay

    def reset(self) -> None:
        """Start again from ``initial_s``: call after a success."""
        self.failures = 0
