"""Capped exponential backoff between reconnect attempts."""

from __future__ import annotations

import random

from edge_agent.sources.config import BackoffConfig


class Backoff:
    """Yields growing, capped delays; ``reset()`` after a healthy period."""

    def __init__(self, config: BackoffConfig, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng or random.Random()
        self.failures = 0

    def next_delay(self) -> float:
        cfg = self.config
        base = min(cfg.max_s, cfg.initial_s * cfg.factor**self.failures)
        self.failures += 1
        if cfg.jitter > 0.0:
            base = min(cfg.max_s, base * (1.0 + cfg.jitter * self._rng.random()))
        return base

    def reset(self) -> None:
        self.failures = 0
