"""The small entity sets (everything but Observations), built from the ledger's devices
and their recent reports, the operator's device file and the metric catalogue.

They are few (a handful per device), so they are built whole and cached for a few
seconds; Observations are read page by page from the series store (observations.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aggregator.api.cache import TtlCache
from aggregator.api.context import ApiContext
from aggregator.api.devices import CATALOGUE_DEPTH
from aggregator.api.sta.model import OM_MEASUREMENT, datastream_id, iso
from aggregator.series.points import TRAFFIC_MEASUREMENT, series_key
from fieldproof.metrics import CATALOGUE
from fieldproof.wire import WireError, decode_report

UCUM = "http://unitsofmeasure.org/ucum.html"
UNIT_NAMES = {
    "Cel": "degree Celsius",
    "%RH": "percent relative humidity",
    "Pa": "pascal",
    "m/s": "metre per second",
    "deg": "degree (angle)",
    "W/m2": "watt per square metre",
    "ug/m3": "microgram per cubic metre",
    "ppm": "parts per million",
    "/": "ratio",
    "count": "count",
}
DEFINITION = "urn:fieldproof:metric:"


@dataclass(slots=True)
class Entity:
    """One entity: its properties (with ``@iot.id``) and the ids it links to, by
    navigation property (links to Observations are resolved by the reader instead)."""

    entity_set: str
    id: str
    props: dict[str, Any]
    links: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class Catalog:
    sets: dict[str, dict[str, Entity]]
    # Datastream id -> (device, record name)
    streams: dict[str, tuple[str, str]]

    def get(self, entity_set: str, entity_id: str) -> Entity | None:
        return self.sets.get(entity_set, {}).get(entity_id)

    def linked(self, entity: Entity, navigation: str, target: str) -> list[Entity]:
        found = (self.get(target, i) for i in entity.links.get(navigation, []))
        return [e for e in found if e is not None]


@dataclass(slots=True)
class _Seen:
    """What a device's recent reports say: record names with their units, model ids."""

    units: dict[str, str | None] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)


def _recent(context: ApiContext, device_id: bytes) -> _Seen:
    ledger = context.sources.ledger
    seen = _Seen()
    for head in ledger.device_reports(device_id, limit=CATALOGUE_DEPTH):
        stored = ledger.report(device_id, head.seq)
        if stored is None:
            continue
        try:
            report = decode_report(stored.raw).report
        except WireError:  # stored reports were verified at ingest; defensive
            continue
        if report.model is not None:
            seen.models[report.model.model_id] = report.model.sha256_prefix.hex()
        for record in report.records:
            if record.value is not None or record.sum is not None:
                seen.units.setdefault(record.name, record.unit)
    return seen


def observed_property(name: str) -> str:
    """The ObservedProperty id of a record name: its catalogued metric or ``traffic``."""
    return series_key(name)[0]


def unit_of(name: str, unit: str | None) -> dict[str, Any]:
    measurement = observed_property(name)
    metric = CATALOGUE.get(measurement)
    symbol = metric.unit if metric is not None else unit
    if measurement == TRAFFIC_MEASUREMENT:
        symbol = "count"
    return {
        "name": UNIT_NAMES.get(symbol or "", symbol),
        "symbol": symbol,
        "definition": f"{UCUM}#{symbol}" if symbol else None,
    }


def _observed_properties(names: set[str]) -> dict[str, Entity]:
    out: dict[str, Entity] = {}
    for key in sorted({observed_property(n) for n in names} | set(CATALOGUE)):
        metric = CATALOGUE.get(key)
        if metric is not None:
            description = metric.description
            extra: dict[str, Any] = {
                "unit": metric.unit,
                "minimum": metric.minimum,
                "maximum": metric.maximum,
            }
        elif key == TRAFFIC_MEASUREMENT:
            description = "objects crossing a counting line (per class and direction)"
            extra = {"unit": "count"}
        else:
            description, extra = f"record {key}", {}
        out[key] = Entity(
            "ObservedProperties",
            key,
            {
                "@iot.id": key,
                "name": key,
                "definition": DEFINITION + key,
                "description": description,
                "properties": extra,
            },
        )
    return out


def build_catalog(context: ApiContext) -> Catalog:
    sources = context.sources
    sets: dict[str, dict[str, Entity]] = {name: {} for name in ("Things", "Locations")}
    for extra in ("HistoricalLocations", "Sensors", "Datastreams", "FeaturesOfInterest"):
        sets[extra] = {}
    streams: dict[str, tuple[str, str]] = {}
    all_names: set[str] = set()
    for summary in context.directory.summaries():
        device: str = summary["device"]
        device_id = bytes.fromhex(device[2:])
        label = summary["name"] or device
        seen = _recent(context, device_id)
        health = summary["health"] or {}
        where = summary["location"]
        meta = sources.devices.get(device_id)
        from_file = meta is not None and meta.lat is not None
        thing = Entity(
            "Things",
            device,
            {
                "@iot.id": device,
                "name": label,
                "description": f"fieldproof device {device}",
                "properties": {
                    "device": device,
                    "state": summary["state"],
                    "online": summary["online"],
                    "last_seen": summary["last_seen"],
                    "last_seq": summary["last_seq"],
                    "proofs": f"/v1/devices/{device}/reports",
                },
            },
        )
        sets["Things"][device] = thing
        point = None
        if where is not None:
            point = {"type": "Point", "coordinates": [where["lon"], where["lat"]]}
            sets["Locations"][device] = Entity(
                "Locations",
                device,
                {
                    "@iot.id": device,
                    "name": label,
                    "description": f"where {label} stands",
                    "encodingType": "application/geo+json",
                    "location": point,
                    "properties": {"source": "devices file" if from_file else "heartbeat"},
                },
                {"Things": [device], "HistoricalLocations": [device]},
            )
            thing.links["Locations"] = [device]
            # Only the current location is kept: one HistoricalLocation, at the time it
            # was last known (its heartbeat, else the device's last message).
            known_at = summary["health_at"] if not from_file else None
            known_at = known_at if known_at is not None else summary["last_seen"]
            if known_at is not None:
                sets["HistoricalLocations"][device] = Entity(
                    "HistoricalLocations",
                    device,
                    {"@iot.id": device, "time": iso(known_at)},
                    {"Thing": [device], "Locations": [device]},
                )
                thing.links["HistoricalLocations"] = [device]
        sets["FeaturesOfInterest"][device] = Entity(
            "FeaturesOfInterest",
            device,
            {
                "@iot.id": device,
                "name": label,
                "description": f"the surroundings of {label}",
                "encodingType": "application/geo+json",
                "feature": point,
                "properties": {"device": device},
            },
        )
        sets["Sensors"][device] = Entity(
            "Sensors",
            device,
            {
                "@iot.id": device,
                "name": f"{label} sensors",
                "description": f"the cameras, sensors and models of device {device}",
                "encodingType": "application/json",
                "metadata": {
                    "device": device,
                    "models": [{"id": k, "sha256_prefix": v} for k, v in seen.models.items()],
                    "firmware": {
                        k: health[k]
                        for k in ("version", "agent_version", "firmware", "models")
                        if k in health
                    },
                },
                "properties": {},
            },
        )
        ids = []
        for name in sorted(seen.units):
            stream = datastream_id(device, name)
            streams[stream] = (device, name)
            ids.append(stream)
            key = observed_property(name)
            sets["Datastreams"][stream] = Entity(
                "Datastreams",
                stream,
                {
                    "@iot.id": stream,
                    "name": f"{label} {name}",
                    "description": f"{name} readings of device {device}",
                    "observationType": OM_MEASUREMENT,
                    "unitOfMeasurement": unit_of(name, seen.units[name]),
                    "observedArea": point,
                    "properties": {
                        "device": device,
                        "record": name,
                        "series": f"/v1/series?metric={name}&device={device}",
                    },
                },
                {"Thing": [device], "Sensor": [device], "ObservedProperty": [key]},
            )
        thing.links["Datastreams"] = ids
        sets["Sensors"][device].links["Datastreams"] = ids
        all_names.update(seen.units)
    sets["ObservedProperties"] = _observed_properties(all_names)
    by_property: dict[str, list[str]] = defaultdict(list)
    for stream, (_, name) in streams.items():
        by_property[observed_property(name)].append(stream)
    for key, entity in sets["ObservedProperties"].items():
        entity.links["Datastreams"] = by_property.get(key, [])
    return Catalog(sets, streams)


class CatalogCache:
    """The catalog, read again after ``ttl_s`` (new devices and metrics appear then)."""

    def __init__(self, ttl_s: float = 10.0) -> None:
        self._cache: TtlCache[str, Catalog] = TtlCache(ttl_s)

    def get(self, context: ApiContext) -> Catalog:
        return self._cache.get("catalog", lambda: build_catalog(context))
