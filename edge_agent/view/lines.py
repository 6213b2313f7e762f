"""Counting lines placed in the view: validated, written back to ``agent.yaml``, applied.

The file is edited as data (its comments are not kept; the previous version is kept
beside it as ``agent.yaml.bak``) and the whole config is validated before it is written,
so a line the agent would refuse at its next start never reaches the file. The running
camera takes the new lines at its next interval boundary, without a restart.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from edge_agent.analytics.config import LineConfig
from edge_agent.errors import AgentError
from edge_agent.sources.config import CameraConfig
from fieldproof.config import parse_config
from fieldproof.errors import ConfigError

ApplyCamera = Callable[[CameraConfig], None]


class LineEditError(AgentError):
    """A line change was refused; ``status`` is the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _validation_message(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])


class LineEditor:
    """Places and removes one camera's lines in ``config_path`` and the running agent.

    ``cameras()`` gives the cameras running now; ``managed()`` returns a reason when the
    cameras come from a signed remote config (which the next restart would re-apply over
    any edit of the file), else None.
    """

    def __init__(
        self,
        config_path: Path | None,
        cameras: Callable[[], Mapping[str, CameraConfig]],
        apply: ApplyCamera,
        *,
        managed: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.config_path = config_path
        self._cameras = cameras
        self._apply = apply
        self._managed = managed
        self._lock = threading.Lock()

    def place(self, camera: str, body: Any) -> CameraConfig:
        """Add the line in ``body`` (name, start, end), or move the line of that name."""
        try:
            line = LineConfig.model_validate(body)
        except ValidationError as exc:
            raise LineEditError(400, _validation_message(exc)) from exc
        entry = line.model_dump(mode="json", exclude_defaults=True)
        entry.setdefault("name", line.name)

        def edit(lines: list[Any]) -> list[Any]:
            kept = [item for item in lines if not _named(item, line.name)]
            return [*kept, entry]

        return self._change(camera, edit)

    def remove(self, camera: str, name: str) -> CameraConfig:
        """Remove the line called ``name``."""

        def edit(lines: list[Any]) -> list[Any]:
            kept = [item for item in lines if not _named(item, name)]
            if len(kept) == len(lines):
                raise LineEditError(404, f"camera {camera} has no line {name!r}")
            return kept

        return self._change(camera, edit)

    def _change(self, camera: str, edit: Callable[[list[Any]], list[Any]]) -> CameraConfig:
        with self._lock:
            running = self._cameras().get(camera)
            if running is None:
                raise LineEditError(404, f"no camera {camera!r}")
            reason = self._managed()
            if reason is not None:
                raise LineEditError(409, reason)
            if self.config_path is None:
                raise LineEditError(409, "the agent was started without a config file")
            raw = self._read()
            entry = _camera_entry(raw, camera)
            lines = entry.get("lines") or []
            if not isinstance(lines, list):
                raise LineEditError(409, f"{self.config_path}: cameras.{camera}.lines is no list")
            entry["lines"] = edit(list(lines))
            from edge_agent.config import AgentConfig

            try:
                checked = parse_config(AgentConfig, raw, str(self.config_path))
            except ConfigError as exc:
                raise LineEditError(400, str(exc)) from exc
            new_lines = next(c for c in checked.cameras if c.name == camera).lines
            # The running camera keeps its resolved paths; only its lines change.
            updated = running.model_copy(update={"lines": new_lines})
            try:
                CameraConfig.model_validate(updated.model_dump())
            except ValidationError as exc:
                raise LineEditError(400, _validation_message(exc)) from exc
            self._write(raw)
            try:
                self._apply(updated)
            except AgentError as exc:
                raise LineEditError(
                    409,
                    f"saved to {self.config_path}; the running camera takes it at the "
                    f"next start ({exc})",
                ) from exc
            return updated

    def _read(self) -> dict[str, Any]:
        assert self.config_path is not None
        try:
            raw = yaml.safe_load(self.config_path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise LineEditError(409, f"{self.config_path}: cannot read: {exc}") from exc
        if not isinstance(raw, dict):
            raise LineEditError(409, f"{self.config_path}: top level is not a mapping")
        return raw

    def _write(self, raw: dict[str, Any]) -> None:
        assert self.config_path is not None
        path = self.config_path
        text = yaml.safe_dump(raw, sort_keys=False, default_flow_style=None, allow_unicode=True)
        temp = path.with_name(f".{path.name}.tmp")
        with temp.open("w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        backup = path.with_name(f"{path.name}.bak")
        backup.write_bytes(path.read_bytes())
        os.replace(temp, path)


def _named(item: Any, name: str) -> bool:
    return isinstance(item, dict) and item.get("name") == name


def _camera_entry(raw: dict[str, Any], camera: str) -> dict[str, Any]:
    for entry in raw.get("cameras") or []:
        if isinstance(entry, dict) and entry.get("name") == camera:
            return entry
    raise LineEditError(409, f"camera {camera!r} is not in the config file")
