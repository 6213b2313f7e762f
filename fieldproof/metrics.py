"""The catalogue of environmental metrics: SenML name, canonical unit and physical range.

Records of a catalogued metric may leave out their unit on the wire (RFC 8428 §4.5.2
lets application context supply it); decoding puts the canonical unit back. The ranges
are what ingest checks readings against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    """One measurable quantity and the values it can physically take."""

    name: str
    unit: str
    minimum: float
    maximum: float
    description: str


CATALOGUE: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("temp", "Cel", -90.0, 65.0, "air temperature"),
        Metric("dew", "Cel", -90.0, 40.0, "dew point"),
        Metric("rh", "%RH", 0.0, 100.0, "relative humidity"),
        Metric("pres", "Pa", 30_000.0, 110_000.0, "barometric pressure"),
        Metric("wspd", "m/s", 0.0, 120.0, "wind speed"),
        Metric("wdir", "deg", 0.0, 360.0, "wind direction"),
        Metric("ghi", "W/m2", 0.0, 1_500.0, "global horizontal irradiance"),
        Metric("dni", "W/m2", 0.0, 1_500.0, "direct normal irradiance"),
        Metric("dhi", "W/m2", 0.0, 1_000.0, "diffuse horizontal irradiance"),
        Metric("pm25", "ug/m3", 0.0, 1_000.0, "particulate matter below 2.5 µm"),
        Metric("pm10", "ug/m3", 0.0, 2_000.0, "particulate matter below 10 µm"),
        Metric("co2", "ppm", 0.0, 40_000.0, "carbon dioxide"),
        Metric("qc", "/", 0.0, 1.0, "data quality score of the interval (1 = no fault)"),
    )
}


def metric_for(name: str) -> Metric | None:
    """The catalogued metric a record name ends in (``bme280/temp`` → ``temp``)."""
    return CATALOGUE.get(name.rsplit("/", 1)[-1])
