"""Allowlist key source: a YAML file of device public keys, reloaded when it changes.

Format::

    devices:
      - key: did:key:zDn...          # or "0x…" (quoted) hex of the 65/33-byte SEC1 key
        active: true                 # optional, default true
        name: door-cam               # optional, for people

The device id is derived from the key, so an entry cannot claim another device's id.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from pydantic import Field, field_validator

from aggregator.errors import AggregatorValueError
from aggregator.registry.device_keys import DeviceEntry
from fieldproof.config import ConfigModel, load_config
from fieldproof.errors import FieldproofError
from fieldproof.identity import (
    device_id_from_public_key,
    public_key_from_did_key,
    uncompress_public_key,
)


def parse_public_key(text: str) -> bytes:
    """A 65-byte uncompressed SEC1 key from ``did:key:…`` or (0x-)hex SEC1 bytes."""
    try:
        if text.startswith("did:key:"):
            key = public_key_from_did_key(text)
        else:
            key = bytes.fromhex(text.removeprefix("0x"))
        return uncompress_public_key(key)
    except (ValueError, FieldproofError) as exc:
        raise ValueError(f"not a P-256 public key: {exc}") from exc


class AllowlistEntry(ConfigModel):
    key: str = Field(description="did:key or hex SEC1 public key.")
    active: bool = Field(True, description="Inactive devices are refused.")
    name: str | None = Field(None, description="Label for people.")

    @field_validator("key")
    @classmethod
    def _key(cls, value: str) -> str:
        parse_public_key(value)
        return value


class AllowlistFile(ConfigModel):
    devices: list[AllowlistEntry] = Field(default_factory=list, description="Known devices.")


def read_allowlist(path: Path) -> dict[bytes, DeviceEntry]:
    """Entries by device id; a ConfigError names the bad entry."""
    parsed = load_config(AllowlistFile, path)
    entries: dict[bytes, DeviceEntry] = {}
    for item in parsed.devices:
        public_key = parse_public_key(item.key)
        device_id = bytes(device_id_from_public_key(public_key))
        entries[device_id] = DeviceEntry(device_id, public_key, item.active)
    return entries


def write_allowlist(path: Path, entries: list[tuple[str, bool]]) -> None:
    """Write ``(key, active)`` pairs in the allowlist format (tests, provisioning tools)."""
    lines = ["devices:"]
    for key, active in entries:
        # Quoted: YAML would read an unquoted 0x... key as a number.
        lines.append(f'  - key: "{key}"')
        lines.append(f"    active: {'true' if active else 'false'}")
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.replace(path)


class AllowlistKeySource:
    """Key source backed by a file; a change on disk is picked up within ``reload_s``."""

    def __init__(self, path: Path, *, reload_s: float = 5.0) -> None:
        self.path = path
        self.reload_s = reload_s
        self._lock = threading.Lock()
        self._mtime = self._stat()
        if self._mtime is None:
            raise AggregatorValueError(f"registry -> allowlist -> path: {path} does not exist")
        self._entries = read_allowlist(path)
        self._checked = time.monotonic()

    def _stat(self) -> float | None:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return None

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.reload_s:
            return
        with self._lock:
            self._checked = now
            mtime = self._stat()
            if mtime is None or mtime == self._mtime:
                return
            try:
                self._entries = read_allowlist(self.path)
            except FieldproofError:
                # Keep serving the last good list; a half-edited file must not lock
                # every device out.
                return
            self._mtime = mtime

    def lookup(self, device_id: bytes) -> DeviceEntry | None:
        self._maybe_reload()
        return self._entries.get(bytes(device_id))

    def __len__(self) -> int:
        return len(self._entries)
