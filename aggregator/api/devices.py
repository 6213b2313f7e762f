"""Device views: who reports, where they stand, how healthy they are, what they last said."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from aggregator.api.cache import TtlCache
from aggregator.api.sources import ApiSources, DeviceMeta
from aggregator.ledger.models import DeviceStatus
from aggregator.series.points import TRAFFIC_MEASUREMENT, series_key
from fieldproof.identity import device_id_hex
from fieldproof.wire import Record, WireError, decode_report

# Health document keys the dashboard shows, in the order it shows them.
# Enough recent reports per device to meet each kind it sends (cameras, sensors).
CATALOGUE_DEPTH = 16
HEALTH_KEYS = ("fps", "gpu", "gpu_percent", "cpu_percent", "outbox", "outbox_depth", "temp_c")


def parse_health(payload: str | None) -> dict[str, Any] | None:
    """The heartbeat as JSON when it is a JSON object, else the text under ``text``."""
    if payload is None:
        return None
    try:
        value = json.loads(payload)
    except ValueError:
        return {"text": payload}
    return value if isinstance(value, dict) else {"value": value}


def location_of(
    meta: DeviceMeta | None, health: Mapping[str, Any] | None
) -> tuple[float, float] | None:
    """(lat, lon) from the operator's metadata, else from the heartbeat's ``location``."""
    if meta is not None and meta.lat is not None and meta.lon is not None:
        return meta.lat, meta.lon
    where = (health or {}).get("location")
    if isinstance(where, Mapping):
        lat, lon = where.get("lat"), where.get("lon")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            return float(lat), float(lon)
    return None


def in_box(where: tuple[float, float] | None, bbox: tuple[float, float, float, float]) -> bool:
    """Whether (lat, lon) ``where`` lies inside ``bbox`` (west, south, east, north)."""
    if where is None:
        return False
    west, south, east, north = bbox
    return west <= where[1] <= east and south <= where[0] <= north


def _state(status: DeviceStatus | None) -> str:
    return "unknown" if status is None else status.state


def record_json(record: Record) -> dict[str, Any]:
    value: Any = record.value
    if value is None:
        value = record.sum if record.sum is not None else record.string_value
    if value is None and record.bool_value is not None:
        value = record.bool_value
    return {"name": record.name, "unit": record.unit, "value": value, "time": record.time}


class DeviceDirectory:
    """Joins the ledger's device table, its sequence heads and the operator's metadata."""

    def __init__(self, sources: ApiSources, *, catalogue_ttl_s: float = 30.0) -> None:
        self.sources = sources
        self._catalogue: TtlCache[str, list[str]] = TtlCache(catalogue_ttl_s)

    def _statuses(self) -> dict[bytes, DeviceStatus | None]:
        found: dict[bytes, DeviceStatus | None] = {
            status.device_id: status for status in self.sources.ledger.devices()
        }
        for device_id in self.sources.devices:
            found.setdefault(bytes(device_id), None)
        return dict(sorted(found.items()))

    def summaries(self) -> list[dict[str, Any]]:
        heads = self.sources.ledger.device_heads()
        now = time.time()
        return [
            self._summary(device_id, status, heads.get(device_id), now)
            for device_id, status in self._statuses().items()
        ]

    def summary(self, device_id: bytes) -> dict[str, Any] | None:
        status = self.sources.ledger.device_status(device_id)
        if status is None and device_id not in self.sources.devices:
            return None
        head = self.sources.ledger.device_head(device_id)
        return self._summary(device_id, status, head, time.time())

    def states(self) -> list[str]:
        """Every known device's state, as its summary gives it."""
        return [_state(status) for status in self._statuses().values()]

    def within(self, bbox: tuple[float, float, float, float]) -> list[str]:
        """The devices located inside ``bbox`` (west, south, east, north)."""
        return [
            device_id_hex(device_id)
            for device_id, status in self._statuses().items()
            if in_box(
                location_of(
                    self.sources.devices.get(device_id),
                    parse_health(None if status is None else status.health),
                ),
                bbox,
            )
        ]

    def _summary(
        self, device_id: bytes, status: DeviceStatus | None, head: int | None, now: float
    ) -> dict[str, Any]:
        meta = self.sources.devices.get(device_id)
        health = parse_health(None if status is None else status.health)
        where = location_of(meta, health)
        last_seen = None if status is None else status.last_seen
        state = _state(status)
        stale = last_seen is None or now - last_seen > self.sources.stale_after_s
        return {
            "device": device_id_hex(device_id),
            "name": None if meta is None else meta.name,
            "location": None if where is None else {"lat": where[0], "lon": where[1]},
            "state": state,
            "online": state == "online" and not stale,
            "last_seen": last_seen,
            "health": health,
            "health_at": None if status is None else status.health_at,
            "last_seq": head,
        }

    def latest_records(
        self, device_id: bytes, head: int | None
    ) -> tuple[dict[str, Any] | None, list[Record]]:
        """The device's newest report (summary) and its records; ``head`` is its highest
        stored seq (the summary's ``last_seq``)."""
        if head is None:
            return None, []
        stored = self.sources.ledger.report(device_id, head)
        if stored is None:
            return None, []
        try:
            report = decode_report(stored.raw).report
        except WireError:  # stored reports were verified at ingest; this is defensive
            return None, []
        summary = {"seq": report.seq, "start": report.start, "end": report.end}
        return summary, list(report.records)

    def catalogue(self) -> list[str]:
        """Record names with numeric values in each device's recent reports (cached).

        A device sends several kinds of report (one per camera, one for its sensors), so
        its newest report alone does not name everything it measures.
        """
        return self._catalogue.get("names", self._read_catalogue)

    def _read_catalogue(self) -> list[str]:
        names: set[str] = set()
        ledger = self.sources.ledger
        for device_id in ledger.device_heads():
            for head in ledger.device_reports(device_id, limit=CATALOGUE_DEPTH):
                stored = ledger.report(device_id, head.seq)
                if stored is None:
                    continue
                try:
                    records = decode_report(stored.raw).report.records
                except WireError:  # stored reports were verified at ingest; defensive
                    continue
                names.update(r.name for r in records if r.value is not None or r.sum is not None)
        return sorted(names)


def traffic_names(
    names: Iterable[str], line: str | None, cls: str | None, direction: str | None
) -> list[str]:
    """Traffic record names (``line/class/direction``) matching the filters given."""
    out = []
    for name in names:
        measurement, tags = series_key(name)
        if measurement != TRAFFIC_MEASUREMENT:
            continue
        values = dict(tags)
        if line is not None and values["line"] != line:
            continue
        if cls is not None and values["class"] != cls:
            continue
        if direction is not None and values["direction"] != direction:
            continue
        out.append(name)
    return sorted(out)
