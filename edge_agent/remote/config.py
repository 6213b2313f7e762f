"""The agent's remote-control settings and the signed config document it accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from edge_agent.sources.config import CameraConfig
from fieldproof.config import ConfigModel

_HEX = re.compile(r"^(0x)?[0-9a-fA-F]+$")


class RemoteConfig(ConfigModel):
    """Where accepted remote state lives and whose signature it needs."""

    operator_public_key: str | None = Field(
        default=None,
        description="0x-hex uncompressed P-256 key of the operator; None: remote config off.",
    )
    state_dir: Path = Field(
        default=Path("state"), description="Accepted config document and staged models."
    )
    models_dir: Path = Field(default=Path("models"), description="Installed model files.")
    max_document_bytes: int = Field(default=256 * 1024, ge=1024, description="Size limit.")

    @field_validator("operator_public_key")
    @classmethod
    def _check_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _HEX.match(value) or len(value.removeprefix("0x")) != 130:
            raise ValueError("expected 0x-hex of a 65-byte uncompressed P-256 public key")
        if not value.removeprefix("0x").lower().startswith("04"):
            raise ValueError("expected an uncompressed point (starting 04)")
        return value

    @property
    def operator_key_bytes(self) -> bytes | None:
        if self.operator_public_key is None:
            return None
        return bytes.fromhex(self.operator_public_key.removeprefix("0x"))


class ModelUpdate(ConfigModel):
    """A model to fetch, check and switch to."""

    model_id: str = Field(min_length=1, max_length=128, description="Model id for reports.")
    url: str = Field(description="file://, http:// or https:// location of the ONNX file.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex SHA-256.")

    @field_validator("url")
    @classmethod
    def _check_scheme(cls, value: str) -> str:
        if not value.startswith(("file://", "http://", "https://")):
            raise ValueError("url must be file://, http:// or https://")
        return value


class ShadowSampling(ConfigModel):
    """Which frames a shadow candidate runs on: every processed frame of a window of
    ``window_s`` seconds, once every ``every_s`` seconds, on each camera."""

    window_s: float = Field(default=60.0, gt=0.0, le=86_400, description="Window length.")
    every_s: float = Field(default=600.0, gt=0.0, le=86_400, description="Window period.")
    match_iou: float = Field(
        default=0.5, gt=0.0, le=1.0, description="IoU at which two detections of one class match."
    )

    @model_validator(mode="after")
    def _check_window(self) -> ShadowSampling:
        if self.window_s > self.every_s:
            raise ValueError("window_s must not exceed every_s")
        return self


class ShadowUpdate(ConfigModel):
    """A candidate model in shadow mode: install it beside the active one, promote it to
    active, or drop it. ``promote`` and ``drop`` name the candidate by its sha256, so
    a document only ever acts on the candidate its signer reviewed."""

    action: Literal["install", "promote", "drop"] = Field(description="What to do.")
    model: ModelUpdate | None = Field(default=None, description="The candidate (install).")
    sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The running candidate's SHA-256 (promote, drop).",
    )
    sampling: ShadowSampling = Field(default_factory=ShadowSampling)

    @model_validator(mode="after")
    def _check_action(self) -> ShadowUpdate:
        if self.action == "install" and self.model is None:
            raise ValueError("install needs model")
        if self.action != "install" and (self.sha256 is None or self.model is not None):
            raise ValueError(f"{self.action} needs sha256 (the candidate's) and no model")
        return self


class RuntimeSettings(ConfigModel):
    """Settings that change without a restart."""

    heartbeat_s: float = Field(default=30.0, gt=0.0, le=86_400, description="Health period.")
    report_interval_s: float = Field(
        default=60.0, gt=0.0, le=86_400, description="Report interval length."
    )


class ConfigDocument(ConfigModel):
    """The operator-signed document on ``fp/v1/<device>/config`` (JSON in a COSE_Sign1).

    ``version`` only goes up: an older or equal one is a replay and is refused;
    ``device`` pins a document to one device so it cannot be replayed on another.
    """

    version: int = Field(ge=1, description="Strictly increasing document version.")
    device: str = Field(pattern=r"^0x[0-9a-f]{64}$", description="Target device id (0x-hex).")
    settings: RuntimeSettings = Field(default_factory=RuntimeSettings)
    cameras: tuple[CameraConfig, ...] | None = Field(
        default=None, description="Replacement camera set (lines/zones included); None: keep."
    )
    model: ModelUpdate | None = Field(default=None, description="Model to switch to.")
    shadow: ShadowUpdate | None = Field(
        default=None, description="Candidate model in shadow mode: install, promote or drop."
    )

    @model_validator(mode="after")
    def _check_one_model_change(self) -> ConfigDocument:
        if self.model is not None and self.shadow is not None and self.shadow.action == "promote":
            raise ValueError("model and a shadow promotion both change the active model")
        return self
