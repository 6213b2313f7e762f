"""The detector the cameras share, and its hot swap: build, warm up, then activate.

A model update is built and run once on a blank frame before any camera switches to
it, so a model that does not load or run is refused while the old one keeps working.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_agent.detectors.plugin import DetectorConfigBase
from edge_agent.detectors.types import Detector
from edge_agent.errors import AgentError

WARM_UP_SHAPE = (480, 640, 3)


class ModelSwapError(AgentError):
    """A model was activated without being warmed up first."""


def _no_installed_model() -> Path | None:
    return None


class ModelSwap:
    """Builds the configured detector, with the model installed by a remote update if any.

    ``installed`` says where the currently installed update lies (None: none is).
    """

    def __init__(
        self,
        config: DetectorConfigBase | None,
        *,
        installed: Callable[[], Path | None] = _no_installed_model,
    ) -> None:
        from edge_agent.detectors import default_config

        self.config = config if config is not None else default_config()
        self._installed = installed
        self._active: Detector | None = None
        self._staged: Detector | None = None
        self._lock = threading.Lock()

    def build(self, model_path: Path | None = None) -> Detector:
        """A new detector on ``model_path``, else the installed update, else the configured one."""
        from edge_agent.detectors import create_detector_from_config

        section = self.config
        if model_path is None:
            model_path = self._installed()
        if model_path is not None:
            section = section.model_copy(update={"model": str(model_path)})
        return create_detector_from_config(section)

    def detector(self) -> Detector:
        """The active detector, built on first use."""
        with self._lock:
            if self._active is None:
                self._active = self.build()
            return self._active

    def model_ids(self) -> tuple[str, ...]:
        with self._lock:
            return () if self._active is None else (self._active.model_id,)

    def warm_up(self, path: Path) -> None:
        """Build a detector on ``path`` and run it once; it waits for :meth:`activate`."""
        staged = self.build(path)
        staged.detect(np.zeros(WARM_UP_SHAPE, dtype=np.uint8))
        self._staged = staged

    def activate(self, path: Path, model_id: str) -> None:
        """Make the warmed-up detector the one every camera uses from its next frame."""
        staged, self._staged = self._staged, None
        if staged is None:
            raise ModelSwapError("no warmed-up model to activate")
        with self._lock:
            self._active = staged
