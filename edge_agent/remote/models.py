"""Model updates: download, verify sha256, warm up, swap atomically, roll back on failure.

The installed model is whatever ``models_dir/current`` points to; the swap replaces that
symlink with ``os.replace`` so a crash leaves either the old or the new model, never half.
"""

from __future__ import annotations

import hashlib
import os
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

from edge_agent.remote.config import ModelUpdate
from edge_agent.remote.errors import ModelRejectedError

CURRENT = "current"
CHUNK = 1 << 20

WarmUp = Callable[[Path], None]
"""Loads a model file and runs it once; raises if the model is unusable."""

Activate = Callable[[Path, str], None]
"""Switches inference to the model at ``path`` with id ``model_id``; raises on failure."""


@dataclass(frozen=True, slots=True)
class InstalledModel:
    """The model in use."""

    model_id: str
    sha256: str
    path: Path


def _no_warm_up(path: Path) -> None:
    return None


def _no_activate(path: Path, model_id: str) -> None:
    return None


class ModelUpdater:
    """Installs models into ``models_dir``; one update at a time (the caller serialises)."""

    def __init__(
        self,
        models_dir: Path,
        *,
        warm_up: WarmUp = _no_warm_up,
        activate: Activate = _no_activate,
        max_bytes: int = 1 << 30,
        timeout_s: float = 60.0,
    ) -> None:
        self.models_dir = models_dir
        self.warm_up = warm_up
        self.activate = activate
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        models_dir.mkdir(parents=True, exist_ok=True)

    def current(self) -> InstalledModel | None:
        link = self.models_dir / CURRENT
        if not link.is_symlink():
            return None
        target = self.models_dir / os.readlink(link)
        name = target.name
        # File names are "<model_id>@<sha256>.onnx".
        model_id, _, rest = name.rpartition("@")
        return InstalledModel(model_id, rest.removesuffix(".onnx"), target)

    def install(self, update: ModelUpdate) -> InstalledModel:
        """Install ``update``; on any failure the previous model stays in use."""
        current = self.current()
        if current is not None and current.sha256 == update.sha256:
            return current
        final = self.models_dir / f"{update.model_id}@{update.sha256}.onnx"
        staged = self.models_dir / f".{final.name}.part"
        try:
            self._download(update, staged)
            os.replace(staged, final)
        finally:
            staged.unlink(missing_ok=True)
        try:
            self.warm_up(final)
        except Exception as exc:
            if current is None or current.path != final:
                final.unlink(missing_ok=True)
            raise ModelRejectedError("warmup_failed", f"{update.model_id}: {exc}") from exc
        self._point_current_at(final)
        try:
            self.activate(final, update.model_id)
        except Exception as exc:
            # Roll back: the previous model file is untouched, point back at it.
            if current is not None:
                self._point_current_at(current.path)
            else:
                (self.models_dir / CURRENT).unlink(missing_ok=True)
            final.unlink(missing_ok=True)
            raise ModelRejectedError("activation_failed", f"{update.model_id}: {exc}") from exc
        installed = InstalledModel(update.model_id, update.sha256, final)
        if current is not None and current.path != final:
            current.path.unlink(missing_ok=True)
        return installed

    def _point_current_at(self, target: Path) -> None:
        temp = self.models_dir / f".{CURRENT}.tmp"
        temp.unlink(missing_ok=True)
        temp.symlink_to(target.name)
        os.replace(temp, self.models_dir / CURRENT)

    def _download(self, update: ModelUpdate, staged: Path) -> None:
        digest = hashlib.sha256()
        size = 0
        try:
            with (
                urllib.request.urlopen(
                    update.url, timeout=self.timeout_s
                ) as response,  # scheme checked by ModelUpdate
                staged.open("wb") as out,
            ):
                while chunk := response.read(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise ModelRejectedError(
                            "too_large", f"{update.url}: more than {self.max_bytes} bytes"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except (OSError, URLError, ValueError) as exc:
            raise ModelRejectedError("download_failed", f"{update.url}: {exc}") from exc
        if digest.hexdigest() != update.sha256:
            raise ModelRejectedError(
                "hash_mismatch", f"{update.url}: sha256 {digest.hexdigest()} != {update.sha256}"
            )
