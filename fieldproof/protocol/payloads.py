"""Schemas of the JSON documents devices publish on their status and health topics.

Both are JSON objects. The aggregator validates them with these models and stores only
what validates; a device builds them with the same models, so the two cannot drift.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fieldproof.errors import FieldproofValueError

MAX_PAYLOAD_BYTES = 64 * 1024


class PayloadError(FieldproofValueError):
    """A status or health payload is not the documented JSON object."""


class StatusPayload(BaseModel):
    """The retained status: ``{"state": "online" | "offline", "at": …, "session": …}``.

    An online status also carries the device id, its start time and the outcome of its
    latest config and model updates; extra keys are kept so a newer device's status
    still reads.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    state: Literal["online", "offline"]
    # When it was signed, and the device's link session (random per process): the
    # aggregator refuses a status older than the last it accepted from another session.
    at: float = Field(allow_inf_nan=False)
    session: str = Field(min_length=1, max_length=64)
    device: str | None = None
    started_at: float | None = None


class CameraHealthPayload(BaseModel):
    """One camera's share of a heartbeat."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    fps: float | None = None
    connected: bool | None = None


class HealthPayload(BaseModel):
    """A heartbeat: what the device's health snapshot holds, by name."""

    model_config = ConfigDict(extra="allow", frozen=True)

    device: str
    at: float = Field(allow_inf_nan=False)
    uptime_s: float = Field(ge=0)
    cameras: tuple[CameraHealthPayload, ...] = ()
    cpu_percent: float | None = None
    outbox_depth: int = Field(default=0, ge=0)
    link_connected: bool = False
    models: tuple[str, ...] = ()
    config_version: int = 0


def _load(payload: bytes, what: str) -> object:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise PayloadError(f"{what}: {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadError(f"{what}: not JSON ({exc})") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = " -> ".join(str(part) for part in error["loc"]) or "(document)"
    return f"{where}: {error['msg']}"


def parse_status(payload: bytes) -> StatusPayload:
    """The status document in ``payload``; :class:`PayloadError` names what is wrong."""
    try:
        return StatusPayload.model_validate(_load(payload, "status"))
    except ValidationError as exc:
        raise PayloadError(f"status: {_first_error(exc)}") from exc


def parse_health(payload: bytes) -> HealthPayload:
    """The heartbeat in ``payload``; :class:`PayloadError` names what is wrong."""
    try:
        return HealthPayload.model_validate(_load(payload, "health"))
    except ValidationError as exc:
        raise PayloadError(f"health: {_first_error(exc)}") from exc
