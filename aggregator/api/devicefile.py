"""The operator's device file: names and locations the dashboard and bbox queries use.

Format::

    devices:
      - id: 0x…64 hex digits…
        name: harbour-bridge
        lat: -36.8321
        lon: 174.7460
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from aggregator.api.sources import DeviceMeta
from fieldproof.config import ConfigModel, load_config


class DeviceEntry(ConfigModel):
    id: str = Field(description="Device id, 0x + 64 hex digits.")
    name: str | None = Field(None, description="Label for people.")
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude (WGS 84).")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude (WGS 84).")

    @field_validator("id", mode="before")
    @classmethod
    def _unquoted(cls, value: object) -> object:
        # YAML reads an unquoted 0x… id as an integer; take it back as hex.
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 256:
            return f"0x{value:064x}"
        return value

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        raw = bytes.fromhex(value.removeprefix("0x"))
        if len(raw) != 32:
            raise ValueError("expected 32 bytes (0x + 64 hex digits)")
        return value


class DeviceFile(ConfigModel):
    devices: list[DeviceEntry] = Field(default_factory=list, description="Devices.")


def load_devices(path: Path) -> dict[bytes, DeviceMeta]:
    parsed = load_config(DeviceFile, path)
    return {
        bytes.fromhex(d.id.removeprefix("0x")): DeviceMeta(d.name, d.lat, d.lon)
        for d in parsed.devices
    }
