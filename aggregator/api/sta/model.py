"""The SensorThings data model as this service maps fieldproof onto it.

* Thing, Sensor, Location, HistoricalLocation, FeatureOfInterest: one per device, whose
  ``@iot.id`` is the device id (``0x`` + 64 hex digits).
* ObservedProperty: one per metric of the catalogue (``temp``, ``rh``…) and ``traffic``
  for line counts; ``@iot.id`` is that name.
* Datastream: one per device and record name, ``@iot.id`` ``<device>:<record name>``
  (a device id has a fixed length, so the first ``:`` splits it).
* Observation: one per stored reading, ``@iot.id`` ``<datastream>@<time in ms>``
  (record names never hold ``@``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from fieldproof.identity import device_id_hex

# entity set -> navigation property -> (target entity set, to-many)
NAVIGATION: dict[str, dict[str, tuple[str, bool]]] = {
    "Things": {
        "Locations": ("Locations", True),
        "HistoricalLocations": ("HistoricalLocations", True),
        "Datastreams": ("Datastreams", True),
    },
    "Locations": {
        "Things": ("Things", True),
        "HistoricalLocations": ("HistoricalLocations", True),
    },
    "HistoricalLocations": {
        "Thing": ("Things", False),
        "Locations": ("Locations", True),
    },
    "Datastreams": {
        "Thing": ("Things", False),
        "Sensor": ("Sensors", False),
        "ObservedProperty": ("ObservedProperties", False),
        "Observations": ("Observations", True),
    },
    "Sensors": {"Datastreams": ("Datastreams", True)},
    "ObservedProperties": {"Datastreams": ("Datastreams", True)},
    "Observations": {
        "Datastream": ("Datastreams", False),
        "FeatureOfInterest": ("FeaturesOfInterest", False),
    },
    "FeaturesOfInterest": {"Observations": ("Observations", True)},
}

PROPERTIES: dict[str, tuple[str, ...]] = {
    "Things": ("name", "description", "properties"),
    "Locations": ("name", "description", "encodingType", "location", "properties"),
    "HistoricalLocations": ("time",),
    "Datastreams": (
        "name",
        "description",
        "observationType",
        "unitOfMeasurement",
        "observedArea",
        "phenomenonTime",
        "resultTime",
        "properties",
    ),
    "Sensors": ("name", "description", "encodingType", "metadata", "properties"),
    "ObservedProperties": ("name", "definition", "description", "properties"),
    "Observations": (
        "phenomenonTime",
        "result",
        "resultTime",
        "resultQuality",
        "validTime",
        "parameters",
    ),
    "FeaturesOfInterest": ("name", "description", "encodingType", "feature", "properties"),
}

ENTITY_SETS: tuple[str, ...] = tuple(NAVIGATION)

OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
DEVICE_ID_LENGTH = 66  # "0x" + 64 hex digits


def iso(seconds: float) -> str:
    """Unix seconds as ISO 8601 in UTC with milliseconds (``2026-11-24T10:00:00.000Z``)."""
    when = datetime.fromtimestamp(seconds, UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def device_key(text: str) -> str | None:
    """A device id in canonical form (lower-case ``0x…``), or ``None`` if it is not one."""
    value = text.lower()
    if len(value) != DEVICE_ID_LENGTH or not value.startswith("0x"):
        return None
    try:
        return device_id_hex(bytes.fromhex(value[2:]))
    except ValueError:
        return None


def datastream_id(device: str, name: str) -> str:
    return f"{device}:{name}"


def split_datastream(text: str) -> tuple[str, str] | None:
    """(device, record name) of a Datastream id, or ``None`` if it is not one."""
    device = device_key(text[:DEVICE_ID_LENGTH])
    if device is None or text[DEVICE_ID_LENGTH : DEVICE_ID_LENGTH + 1] != ":":
        return None
    name = text[DEVICE_ID_LENGTH + 1 :]
    return (device, name) if name else None


def observation_id(device: str, name: str, time_ms: int) -> str:
    return f"{datastream_id(device, name)}@{time_ms}"


def split_observation(text: str) -> tuple[str, str, int] | None:
    """(device, record name, time in ms) of an Observation id, or ``None``."""
    stream, sep, ms = text.rpartition("@")
    parts = split_datastream(stream) if sep else None
    if parts is None or not ms.isdigit() or len(ms) > 15:
        return None
    return parts[0], parts[1], int(ms)
