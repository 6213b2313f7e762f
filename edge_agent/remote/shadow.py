"""The shadow candidate on disk: installed, checked and dropped like a model update.

A candidate lives in ``models_dir/shadow`` under the same scheme as the active model
(``current`` points at ``<model_id>@<sha256>.onnx``), with its sampling settings beside
it, so it survives a restart. Installing downloads, verifies the sha256 and warms the
model up before anything runs it; a refused candidate leaves the previous one in place.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge_agent.remote.config import ModelUpdate, ShadowSampling
from edge_agent.remote.errors import RemoteUpdateError
from edge_agent.remote.models import ModelUpdater, WarmUp

SHADOW_DIR = "shadow"
SAMPLING_NAME = "sampling.json"


class ShadowRejectedError(RemoteUpdateError):
    """Codes: ``no_candidate`` (nothing to promote or drop), ``not_candidate`` (the
    document names another candidate than the one running)."""


@dataclass(frozen=True, slots=True)
class ShadowCandidate:
    """The candidate model running in shadow mode."""

    model_id: str
    sha256: str
    path: Path
    sampling: ShadowSampling


ShadowListener = Callable[[ShadowCandidate | None], None]


def _no_warm_up(path: Path) -> None:
    return None


class ShadowModels:
    """Installs and drops the shadow candidate; listeners hear of every change."""

    def __init__(self, models_dir: Path, *, warm_up: WarmUp = _no_warm_up) -> None:
        self.dir = models_dir / SHADOW_DIR
        self._updater = ModelUpdater(self.dir, warm_up=warm_up)
        self._listeners: list[ShadowListener] = []

    def on_change(self, listener: ShadowListener) -> None:
        self._listeners.append(listener)

    def current(self) -> ShadowCandidate | None:
        installed = self._updater.current()
        if installed is None or not installed.path.exists():
            return None
        try:
            sampling = ShadowSampling.model_validate_json((self.dir / SAMPLING_NAME).read_text())
        except (OSError, ValueError):
            sampling = ShadowSampling()
        return ShadowCandidate(installed.model_id, installed.sha256, installed.path, sampling)

    def install(self, update: ModelUpdate, sampling: ShadowSampling) -> ShadowCandidate:
        """Download, verify and warm up ``update``; raises ModelRejectedError."""
        installed = self._updater.install(update)
        self._save_sampling(sampling)
        candidate = ShadowCandidate(installed.model_id, installed.sha256, installed.path, sampling)
        self._notify(candidate)
        return candidate

    def checked(self, sha256: str) -> ShadowCandidate:
        """The running candidate if it is the one ``sha256`` names."""
        candidate = self.current()
        if candidate is None:
            raise ShadowRejectedError("no_candidate", "no candidate model is installed")
        if candidate.sha256 != sha256:
            raise ShadowRejectedError(
                "not_candidate", f"running candidate is {candidate.sha256}, not {sha256}"
            )
        return candidate

    def drop(self, sha256: str) -> ShadowCandidate:
        """Stop and delete the candidate ``sha256`` names."""
        candidate = self.checked(sha256)
        (self.dir / "current").unlink(missing_ok=True)
        (self.dir / SAMPLING_NAME).unlink(missing_ok=True)
        candidate.path.unlink(missing_ok=True)
        self._notify(None)
        return candidate

    def _save_sampling(self, sampling: ShadowSampling) -> None:
        path = self.dir / SAMPLING_NAME
        temp = path.with_suffix(".tmp")
        temp.write_text(json.dumps(sampling.model_dump(mode="json")))
        os.replace(temp, path)

    def _notify(self, candidate: ShadowCandidate | None) -> None:
        for listener in self._listeners:
            listener(candidate)
