"""Remote control: verify, validate and apply operator-signed config documents.

Documents arrive on the MQTT link thread and are handed to a worker thread here, so a
model download never stalls the connection. Each outcome (applied, unchanged or
rejected with a reason) is kept for the status topic and passed to ``on_outcome``.
A rejected document changes nothing: the running settings, cameras and model stay.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edge_agent.remote.config import ConfigDocument, ModelUpdate, RemoteConfig, RuntimeSettings
from edge_agent.remote.errors import ConfigRejectedError, RemoteUpdateError
from edge_agent.remote.models import InstalledModel, ModelUpdater
from edge_agent.remote.shadow import ShadowModels
from edge_agent.remote.signing import open_config
from edge_agent.sources.config import CameraConfig
from fieldproof.identity import PublicKeyVerifier

log = logging.getLogger(__name__)

ACCEPTED_NAME = "config.cose"

SettingsListener = Callable[[RuntimeSettings], None]
CamerasListener = Callable[[tuple[CameraConfig, ...]], None]


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    """What happened to one config document or model update."""

    kind: str  # "config" | "model" | "shadow"
    outcome: str  # "applied" | "unchanged" | "rejected"
    reason: str | None
    detail: str | None
    version: int | None
    at: float

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "outcome": self.outcome,
            "reason": self.reason,
            "detail": self.detail,
            "version": self.version,
            "at": self.at,
        }


def _ignore_outcome(outcome: UpdateOutcome) -> None:
    return None


class RemoteControl:
    """Holds the running settings and applies signed documents to them atomically."""

    def __init__(
        self,
        config: RemoteConfig,
        device_hex: str,
        settings: RuntimeSettings,
        *,
        models: ModelUpdater | None = None,
        shadow: ShadowModels | None = None,
        on_outcome: Callable[[UpdateOutcome], None] = _ignore_outcome,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.device_hex = device_hex
        self._clock = clock
        key = config.operator_key_bytes
        self._verifier = None if key is None else PublicKeyVerifier(key)
        self._settings = settings
        self._version = 0
        self._accepted: bytes | None = None
        self._settings_listeners: list[SettingsListener] = []
        self._camera_listeners: list[CamerasListener] = []
        self.models = models or ModelUpdater(config.models_dir)
        self.shadow = shadow or ShadowModels(config.models_dir)
        self._on_outcome = on_outcome
        self._lock = threading.Lock()
        self._last: dict[str, UpdateOutcome] = {}
        self._inbox: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        config.state_dir.mkdir(parents=True, exist_ok=True)

    # -- wiring --------------------------------------------------------------------------

    def on_settings(self, listener: SettingsListener) -> None:
        """Called with the new settings after each applied document."""
        self._settings_listeners.append(listener)

    def on_cameras(self, listener: CamerasListener) -> None:
        """Called with the new camera set (lines, zones included) when a document has one."""
        self._camera_listeners.append(listener)

    @property
    def settings(self) -> RuntimeSettings:
        with self._lock:
            return self._settings

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def restore(self) -> None:
        """Re-apply the last accepted document saved on disk (after a restart)."""
        path = self.config.state_dir / ACCEPTED_NAME
        if self._verifier is None or not path.exists():
            return
        # The model on disk is the one that was installed; a model the document named but
        # that was refused is not fetched again at every start.
        self.apply(path.read_bytes(), install_model=False)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="remote-config", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._inbox.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, payload: bytes) -> None:
        """Queue a document received on the config topic (returns at once)."""
        self._inbox.put(payload)

    def status(self) -> dict[str, Any]:
        """The remote-control part of the retained status document."""
        model = self.models.current()
        candidate = self.shadow.current()
        with self._lock:
            return {
                "config_version": self._version,
                "model": None if model is None else {"id": model.model_id, "sha256": model.sha256},
                "shadow": None
                if candidate is None
                else {"id": candidate.model_id, "sha256": candidate.sha256},
                "last_update": {kind: o.to_json() for kind, o in self._last.items()},
            }

    # -- applying --------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            payload = self._inbox.get()
            if payload is None:
                return
            try:
                self.apply(payload)
            except Exception:  # a listener bug must not kill the worker
                log.exception("remote config worker")

    def apply(self, payload: bytes, *, install_model: bool = True) -> list[UpdateOutcome]:
        """Verify and apply one document; returns the outcomes (config, model, shadow)."""
        outcome, document = self._apply_config(payload)
        outcomes = [outcome]
        if install_model and document is not None and document.model is not None:
            outcomes.append(self._apply_model(document))
        if install_model and document is not None and document.shadow is not None:
            outcomes.append(self._apply_shadow(document))
        return outcomes

    def _apply_config(self, payload: bytes) -> tuple[UpdateOutcome, ConfigDocument | None]:
        try:
            document = self._check(payload)
        except ConfigRejectedError as exc:
            return self._record("config", "rejected", exc, self._version), None
        if document is None:
            return self._record("config", "unchanged", None, self._version), None
        with self._lock:
            previous = self._settings
        try:
            self._notify(document, previous)
        except Exception as exc:
            error = ConfigRejectedError("apply_failed", str(exc))
            return self._record("config", "rejected", error, self._version), None
        with self._lock:
            self._settings = document.settings
            self._version = document.version
            self._accepted = payload
        self._save(payload)
        return self._record("config", "applied", None, document.version), document

    def _check(self, payload: bytes) -> ConfigDocument | None:
        if self._verifier is None:
            raise ConfigRejectedError("disabled", "no operator_public_key configured")
        document = open_config(payload, self._verifier, max_size=self.config.max_document_bytes)
        if document.device != self.device_hex:
            raise ConfigRejectedError("wrong_device", f"document is for {document.device}")
        with self._lock:
            if payload == self._accepted:
                return None  # the retained copy, redelivered on reconnect
            if document.version <= self._version:
                raise ConfigRejectedError(
                    "stale", f"version {document.version} <= running {self._version}"
                )
        return document

    def _notify(self, document: ConfigDocument, previous: RuntimeSettings) -> None:
        done: list[SettingsListener] = []
        try:
            for listener in self._settings_listeners:
                listener(document.settings)
                done.append(listener)
            if document.cameras is not None:
                for camera_listener in self._camera_listeners:
                    camera_listener(document.cameras)
        except Exception:
            # All or nothing: listeners that took the new settings get the old ones back.
            for listener in done:
                listener(previous)
            raise

    def _apply_model(self, document: ConfigDocument) -> UpdateOutcome:
        assert document.model is not None
        current = self.models.current()
        if current is not None and current.sha256 == document.model.sha256:
            return self._record("model", "unchanged", None, document.version)
        try:
            installed: InstalledModel = self.models.install(document.model)
        except RemoteUpdateError as exc:
            return self._record("model", "rejected", exc, document.version)
        log.info("model %s (%s) installed", installed.model_id, installed.sha256[:12])
        return self._record("model", "applied", None, document.version)

    def _apply_shadow(self, document: ConfigDocument) -> UpdateOutcome:
        shadow = document.shadow
        assert shadow is not None
        try:
            if shadow.action == "install":
                assert shadow.model is not None
                current = self.shadow.current()
                if (
                    current is not None
                    and current.sha256 == shadow.model.sha256
                    and current.sampling == shadow.sampling
                ):
                    return self._record("shadow", "unchanged", None, document.version)
                candidate = self.shadow.install(shadow.model, shadow.sampling)
                log.info(
                    "shadow candidate %s (%s) installed", candidate.model_id, candidate.sha256[:12]
                )
            elif shadow.action == "drop":
                assert shadow.sha256 is not None
                self.shadow.drop(shadow.sha256)
                log.info("shadow candidate %s dropped", shadow.sha256[:12])
            else:
                assert shadow.sha256 is not None
                candidate = self.shadow.checked(shadow.sha256)
                # The candidate becomes active through the same path as a model update:
                # copied, verified, warmed up, then swapped in.
                self.models.install(
                    ModelUpdate(
                        model_id=candidate.model_id,
                        url=candidate.path.as_uri(),
                        sha256=candidate.sha256,
                    )
                )
                self.shadow.drop(candidate.sha256)
                log.info("shadow candidate %s promoted", candidate.sha256[:12])
        except RemoteUpdateError as exc:  # ShadowRejectedError and ModelRejectedError
            return self._record("shadow", "rejected", exc, document.version)
        return self._record("shadow", "applied", None, document.version)

    def _record(
        self, kind: str, outcome: str, error: RemoteUpdateError | None, version: int | None
    ) -> UpdateOutcome:
        result = UpdateOutcome(
            kind,
            outcome,
            None if error is None else error.reason,
            None if error is None else error.detail[:300],
            version,
            self._clock(),
        )
        if outcome != "unchanged":
            with self._lock:
                self._last[kind] = result
            if error is not None:
                log.warning("%s update rejected: %s", kind, error)
            self._on_outcome(result)
        return result

    def _save(self, payload: bytes) -> None:
        path = self.config.state_dir / ACCEPTED_NAME
        temp = path.with_suffix(".tmp")
        with temp.open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
