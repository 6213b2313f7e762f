"""Capped exponential backoff with jitter for broker reconnects (pure, testable)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class ReconnectBackoff:
    """Delay ``initial_s * factor**n`` capped at ``max_s``, minus up to ``jitter`` of it.

    Jitter only shortens a delay so the cap stays a hard upper bound, and a fleet that
    lost its broker together does not come back in lockstep.
    """

    initial_s: float = 0.5
    max_s: float = 30.0
    factor: float = 2.0
    jitter: float = 0.2
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        exponent = min(self.failures, 64)
        base = min(self.max_s, self.initial_s * self.factor**exponent)
        self.failures += 1
        return base * (1.0 - self.jitter * self.rng.random())

    def reset(self) -> None:
        """Call after a successful connect."""
        self.failures = 0
